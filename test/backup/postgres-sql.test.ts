/**
 * The manual's PostgreSQL recovery line, `psql arbitrage_prod < backup/arbitrage_latest.sql`, on a backup
 * `arb backup` wrote: it loads into an empty database and over the live one (everything or nothing), and
 * encrypted backups (.dump.age / .sql.age) open with `age -d` and restore with `arb restore`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, type DbHandle } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser } from '../../src/ledger/ledger.js';
import { createPgDatabase, PG_SKIP_REASON, tempDir } from '../support/db.js';
import { arbEnv, runArb, seedShop, type ArbEnv } from '../commands/support.js';
import { ageKey } from './age-key.js';

const HAVE_TOOLS = ['pg_dump', 'pg_restore', 'psql'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const SKIP = !process.env.TEST_DATABASE_URL ? PG_SKIP_REASON : !HAVE_TOOLS ? 'pg_dump/pg_restore/psql are not installed (apt-get install postgresql-client)' : false;
const HAVE_AGE = spawnSync('age', ['--version']).status === 0;

type After = { after: (fn: () => Promise<void> | void) => void };

async function pgShop(t: After, extra: Record<string, string> = {}): Promise<{ env: ArbEnv; url: string; handle: DbHandle }> {
  const url = await createPgDatabase(t as never);
  const handle = await openAndMigrate({ databaseUrl: url, poolSize: 2 });
  t.after(() => handle.close());
  await seedShop(handle);
  const base = arbEnv(tempDir(t as never));
  return { env: { ...base, env: { ...base.env, DATABASE_URL: url, ...extra }, db: { databaseUrl: url } }, url, handle };
}

async function fingerprint(handle: DbHandle): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const table of ['users', 'transactions', 'ai_token_packages', 'ai_token_allocations', 'usage_events'] as const) {
    out[table] = await handle.db.selectFrom(table).selectAll().orderBy('id').execute();
  }
  return JSON.stringify(out);
}

/** Runs a shell line in the shop's directory, as the operator would. */
function sh(env: ArbEnv, line: string, vars: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', line], { cwd: env.dir, env: { PATH: process.env.PATH, ...vars }, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('psql DB < backup/arbitrage_latest.sql restores an arb backup: into an empty database, and over the live one (all or nothing)', { skip: SKIP }, async (t) => {
  const { env, handle } = await pgShop(t);
  const original = await fingerprint(handle);
  const made = await runArb(['backup', '--json'], env);
  assert.equal(made.code, 0, made.stderr);
  const doc = JSON.parse(made.stdout);
  assert.equal(doc.sql_latest, join(env.backupDir, 'arbitrage_latest.sql'));
  assert.match(doc.sql, /backup\/arbitrage_\d{8}-\d{6}\.sql$/);
  assert.equal(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: env.backupDir }).status, 0, 'the .sql files are listed too');

  // a fresh database (a new server): the manual's line, as written
  const freshUrl = await createPgDatabase(t as never);
  const fresh = sh(env, 'psql "$TARGET" < backup/arbitrage_latest.sql', { TARGET: freshUrl });
  assert.equal(fresh.status, 0, fresh.out);
  const freshHandle = await openAndMigrate({ databaseUrl: freshUrl, poolSize: 1 });
  t.after(() => freshHandle.close());
  assert.equal(await fingerprint(freshHandle), original);
  assert.deepEqual((await auditLedger(freshHandle)).problems, []);

  // the live database after a bad day: back to the backup, row for row, sequences included
  await creditUser({ handle }, { telegramId: 1001, amountMicros: 7_000_000, type: 'topup', reference: 'after-backup' });
  await handle.db.deleteFrom('usage_events').execute();
  const changed = await fingerprint(handle);
  const over = sh(env, 'psql "$TARGET" < backup/arbitrage_latest.sql', { TARGET: env.env.DATABASE_URL! });
  assert.equal(over.status, 0, over.out);
  assert.equal(await fingerprint(handle), original);
  assert.equal((await runArb(['user', 'credit', '1002', '1.50'], env)).code, 0);
  const last = await handle.db.selectFrom('transactions').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.equal(last.id, 7, 'new rows continue after the restored ones');

  // a damaged (cut) copy fails and changes nothing: one transaction, ON_ERROR_STOP
  const before = await fingerprint(handle);
  assert.notEqual(before, changed);
  const text = readFileSync(join(env.backupDir, 'arbitrage_latest.sql'), 'utf8');
  const cut = text.indexOf('COPY public.transactions');
  assert.ok(cut > 0);
  writeFileSync(join(env.dir, 'cut.sql'), text.slice(0, cut + 200));
  const damaged = sh(env, 'psql "$TARGET" < cut.sql', { TARGET: env.env.DATABASE_URL! });
  assert.equal(await fingerprint(handle), before, damaged.out);

  // arb restore keeps taking the custom-format dump, and points at psql for the .sql
  const viaArb = await runArb(['restore', 'latest', '--yes'], env);
  assert.equal(viaArb.code, 0, viaArb.stderr);
  assert.equal(await fingerprint(handle), original);
  const wrongKind = await runArb(['restore', 'arbitrage_latest.sql', '--yes'], env);
  assert.equal(wrongKind.code, 2);
  assert.match(wrongKind.stderr, /arbitrage_latest\.sql is the plain-SQL companion of a backup; arb restore takes the \.dump file next to it/);
});

test('PostgreSQL with BACKUP_ENCRYPTION_RECIPIENT: .dump.age and .sql.age only; age -d | psql and arb restore (with the identity) bring it back', { skip: SKIP }, async (t) => {
  const dir = tempDir(t);
  const key = await ageKey(dir);
  const { env, handle } = await pgShop(t, { BACKUP_ENCRYPTION_RECIPIENT: key.recipient });
  const original = await fingerprint(handle);
  const made = await runArb(['backup', '--json'], env);
  assert.equal(made.code, 0, made.stderr);
  const doc = JSON.parse(made.stdout);
  assert.equal(doc.encrypted, true);
  assert.match(doc.file, /\.dump\.age$/);
  assert.deepEqual(
    readdirSync(env.backupDir).filter((f) => !f.endsWith('.age') && f !== 'SHA256SUMS'),
    [],
    'no plaintext dump or SQL in the backup directory',
  );
  if (HAVE_AGE) {
    const freshUrl = await createPgDatabase(t as never);
    const r = sh(env, 'age -d -i "$KEY" backup/arbitrage_latest.sql.age | psql "$TARGET"', { KEY: key.file, TARGET: freshUrl });
    assert.equal(r.status, 0, r.out);
    const freshHandle = await openAndMigrate({ databaseUrl: freshUrl, poolSize: 1 });
    t.after(() => freshHandle.close());
    assert.equal(await fingerprint(freshHandle), original);
  } else t.diagnostic('age CLI not installed: skipped age -d | psql');

  await creditUser({ handle }, { telegramId: 1001, amountMicros: 7_000_000, type: 'topup', reference: 'after-backup' });
  const changed = await fingerprint(handle);
  const refused = await runArb(['restore', 'latest', '--yes'], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /BACKUP_ENCRYPTION_IDENTITY: arbitrage_latest\.dump\.age is encrypted/);
  assert.equal(await fingerprint(handle), changed);
  const ok = await runArb(['restore', 'latest', '--yes', '--json'], { ...env, env: { ...env.env, BACKUP_ENCRYPTION_IDENTITY: key.file } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(JSON.parse(ok.stdout).pre_restore, /\.pre-restore\.dump\.age$/, 'the data it replaced is kept encrypted too');
  assert.equal(await fingerprint(handle), original);
  assert.deepEqual(readdirSync(env.backupDir).filter((f) => f.startsWith('.')), [], 'no decrypted leftovers');
});
