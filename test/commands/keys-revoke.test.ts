/** `arb keys revoke` is destructive: it asks on a terminal and needs --yes elsewhere (ui/screens.ts confirm). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAndMigrate } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, runArbOnTty, seedShop } from './support.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  await handle.close();
  return { env, shop };
}

test('arb keys revoke confirms on a terminal and needs --yes elsewhere; answering no changes nothing', async (t) => {
  const { env, shop } = await setup(t);
  const prefix = shop.keys[0].slice(0, 16);
  const status = async () => (JSON.parse((await runArb(['keys', 'list', '--json'], env)).stdout).keys as { id: number; status: string }[]).find((k) => k.id === shop.allocations[0])!.status;

  const piped = await runArb(['keys', 'revoke', prefix], env);
  assert.equal(piped.code, 2);
  assert.equal(piped.stderr, `error: arb keys revoke ${prefix} needs confirmation and there is no terminal to ask on; rerun with --yes to confirm (nothing was changed)\n`);
  assert.equal(await status(), 'active');

  const no = await runArbOnTty(['keys', 'revoke', prefix], env, { waitFor: '(y/N)', answer: 'n' });
  assert.equal(no.code, 1, no.output);
  assert.match(no.output, /Revoke sk-arb-.{4}….{4}\? Requests with it will get 401; nothing is refunded\./);
  assert.match(no.output, /openai\/gpt-4, 97,000 of 100,000 tokens left, paid \$3\.75/);
  assert.match(no.output, /not revoked; nothing was changed/);
  assert.equal(await status(), 'active');

  const yes = await runArbOnTty(['keys', 'revoke', prefix], env, { waitFor: '(y/N)', answer: 'y' });
  assert.equal(yes.code, 0, yes.output);
  assert.match(yes.output, /revoked sk-arb-/);
  assert.equal(await status(), 'revoked');
});

test('arb keys refund, keys replace and user refund change nothing without --yes when there is no terminal to ask on, and ask on one', async (t) => {
  const { env, shop } = await setup(t);
  for (const args of [
    ['keys', 'refund', shop.keys[0]],
    ['keys', 'replace', shop.keys[0]],
  ]) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `error: arb ${args.join(' ')} needs confirmation and there is no terminal to ask on; rerun with --yes to confirm (nothing was changed)\n`);
  }
  const keys = JSON.parse((await runArb(['keys', 'list', '--json'], env)).stdout).keys as { id: number; status: string }[];
  assert.equal(keys.find((k) => k.id === shop.allocations[0])!.status, 'active', 'not refunded, not replaced');
  // on a terminal they ask; "n" changes nothing
  for (const args of [
    ['keys', 'refund', shop.keys[0]],
    ['keys', 'replace', shop.keys[0]],
  ]) {
    const no = await runArbOnTty(args, env, { waitFor: '(y/N)', answer: 'n' });
    assert.equal(no.code, 1, `${args.join(' ')}: ${no.output}`);
    assert.match(no.output, /nothing was changed/);
  }
  const after = JSON.parse((await runArb(['keys', 'list', '--json'], env)).stdout).keys as { id: number; status: string; api_key: string }[];
  assert.deepEqual(after, keys, 'answering no changed no key');
  const refund = await runArb(['user', 'refund', 'stxANY'], { ...env, env: { ...env.env, TOKEN: '123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345' } });
  assert.equal(refund.code, 2);
  assert.match(refund.stderr, /^error: arb user refund stxANY needs confirmation/);
});
