/**
 * Keys are never lost: 🔁 Replace key issues a new key for the same allocation (tokens, expiry and usage
 * carry over), the old one stops working, both logged as security events; a second tap changes nothing.
 * An Anthropic package's key message carries ready Claude Code settings pinned to the package's model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashApiKey } from '../../../src/keys/api-key.js';
import { auditLedger } from '../../../src/ledger/audit.js';
import { seedPackage } from '../../support/seed.js';
import { claudeCodeEnv, shellExports } from '../../../src/client-settings.js';
import { startBotHarness } from './harness.js';

const KIM = 8181;

test('🔁 Replace key: a new key for the same allocation, the old one revoked, both security events; a double tap replaces once', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle);
  const kim = h.fake.user(KIM, { first_name: 'Kim' });
  await h.credit(KIM, 10);
  await h.fake.send(kim, '/start');
  await h.fake.press(kim, '🤖 AI Tokens');
  await h.fake.press(kim, /· \$3\.75$/);
  await h.fake.press(kim, '🛒 Buy for $3.75');
  await h.fake.press(kim, '✅ Confirm purchase');
  const oldKey = h.fake.copyTexts(KIM)[0].text;
  const oldKeyMessage = h.fake.copyTexts(KIM)[0].message;
  // some usage on the allocation: it must carry over
  const before = await h.handle.db.selectFrom('ai_token_allocations').selectAll().executeTakeFirstOrThrow();
  await h.handle.db.updateTable('ai_token_allocations').set({ tokens_used: 1234 }).where('id', '=', before.id).execute();
  await h.handle.db
    .insertInto('usage_events')
    .values({
      request_id: 'r-1',
      allocation_id: before.id,
      model: before.model,
      prompt_tokens: 1234,
      completion_tokens: 0,
      weighted_tokens: 1234,
      loss_tokens: 0,
      upstream_cost: 0,
      latency_ms: 1,
      status_code: 200,
      outcome: 'ok',
      estimated: 0,
      stream: 0,
      created_at: before.created_at,
    })
    .execute();

  await h.fake.press(kim, '🔑 My Keys');
  const replaceLabel = `🔁 Replace ${before.api_key}`;
  assert.ok(h.fake.buttons(KIM).includes(replaceLabel), JSON.stringify(h.fake.buttons(KIM)));
  await h.fake.press(kim, replaceLabel);
  assert.match(h.fake.lastBotMessage(KIM).text, /Replace key sk-arb-.*\?[\s\S]*old one stops working\. Tokens, expiry and usage carry over\./);
  const confirm = h.fake.findButton(KIM, '✅ Replace key')!;
  await h.fake.press(kim, '✅ Replace key');

  const keys = h.fake.copyTexts(KIM);
  assert.equal(keys.length, 2, 'a second key message');
  const newKey = keys[1].text;
  assert.notEqual(newKey, oldKey);
  assert.match(h.fake.findBotMessage(KIM, /was replaced/)!.text, new RegExp(`Key ${before.api_key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was replaced and no longer works`));
  const after = await h.handle.db.selectFrom('ai_token_allocations').selectAll().executeTakeFirstOrThrow();
  assert.equal(after.id, before.id, 'the same allocation');
  assert.equal(after.api_key_hash, hashApiKey(newKey));
  assert.notEqual(after.api_key_hash, hashApiKey(oldKey));
  assert.equal(after.tokens_used, 1234);
  assert.equal(after.tokens_total, before.tokens_total);
  assert.equal(after.expires_at, before.expires_at);
  assert.equal(after.status, 'active');
  assert.equal(oldKeyMessage.edits, 0, 'the old key message is left alone');
  const events = h.logs().filter((l) => l.security_event === true);
  assert.deepEqual(
    events.map((l) => [l.event, l.key_masked]),
    [
      ['key_revoked', before.api_key],
      ['key_issued', after.api_key],
    ],
  );
  assert.ok(!h.logText().includes(newKey) && !h.logText().includes(oldKey), 'no key in the log');

  // the same confirmation tapped again: nothing more
  await h.fake.deliver(h.fake.callbackUpdate(kim, (confirm.button as { callback_data: string }).callback_data, confirm.message));
  assert.match(h.fake.callbackAnswers.at(-1)?.text ?? '', /already replaced/);
  assert.equal(h.fake.copyTexts(KIM).length, 2);
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').select('api_key_hash').executeTakeFirstOrThrow()).api_key_hash, hashApiKey(newKey));

  // someone else's key id in a forged callback: refused
  const mallory = h.fake.user(8282);
  await h.fake.send(mallory, '/start');
  await h.fake.deliver(h.fake.callbackUpdate(mallory, `k:r:${before.id}`, h.fake.lastBotMessage(8282)));
  assert.match(h.fake.lastBotMessage(8282).text, /cannot be replaced/);
  assert.deepEqual((await auditLedger(h.handle)).problems, []);
});

test('an Anthropic package: Claude Code settings with the base URL without /v1, the key, and every model slot pinned', async (t) => {
  const h = await startBotHarness(t, { deps: { publicBaseUrl: 'https://shop.example.com' } });
  await seedPackage(h.handle, { model: 'anthropic/claude-opus-4.5', tokens: 10_000, description: 'Claude Opus 10k' });
  const ann = h.fake.user(8383);
  await h.credit(8383, 50);
  await h.fake.send(ann, '/shop');
  await h.fake.press(ann, /^Claude Opus 10k · /);
  await h.fake.press(ann, /^🛒 Buy for /);
  await h.fake.press(ann, '✅ Confirm purchase');
  const key = h.fake.copyTexts(8383)[0].text;
  const message = h.fake.lastBotMessage(8383);
  const claude = message.entities
    .filter((e) => e.type === 'pre')
    .map((e) => e.text)
    .find((b) => b.includes('ANTHROPIC_'));
  assert.equal(claude, [...shellExports(claudeCodeEnv('https://shop.example.com', key, 'anthropic/claude-opus-4.5')), 'claude'].join('\n'));
  assert.match(claude!, /^export ANTHROPIC_BASE_URL='https:\/\/shop\.example\.com'\n/, 'the base URL without /v1');
  for (const v of ['ANTHROPIC_MODEL', 'ANTHROPIC_DEFAULT_HAIKU_MODEL', 'ANTHROPIC_DEFAULT_SONNET_MODEL', 'ANTHROPIC_DEFAULT_OPUS_MODEL', 'CLAUDE_CODE_SUBAGENT_MODEL']) {
    assert.ok(claude!.includes(`export ${v}='anthropic/claude-opus-4.5'`), v);
  }
  assert.ok(claude!.includes(`export ANTHROPIC_AUTH_TOKEN='${key}'`));
  assert.match(message.text, /Base URL: https:\/\/shop\.example\.com\/v1/);
});
