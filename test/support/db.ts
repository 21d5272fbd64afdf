/**
 * Temp databases for tests: a fresh SQLite file per call, and (when TEST_DATABASE_URL is set) a fresh
 * PostgreSQL database per call, dropped in t.after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestContext } from 'node:test';
import { openAndMigrate, type DbHandle } from '../../src/db/dialect.js';

export type TestDialect = 'sqlite' | 'postgres';

/**
 * The dialect a test uses when it does not ask for one: SQLite, or PostgreSQL when the suite runs with
 * ARB_TEST_DIALECT=postgres (CI runs the suite both ways).
 */
export function defaultTestDialect(): TestDialect {
  return process.env.ARB_TEST_DIALECT === 'postgres' && process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
}

/** The dialects to run repository tests on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function testDialects(): TestDialect[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export const PG_SKIP_REASON = 'TEST_DATABASE_URL is not set (PostgreSQL tests skipped; .ci/run sets it)';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'arb-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Creates an empty PostgreSQL database and returns its URL; drops it in t.after. */
export async function createPgDatabase(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error(PG_SKIP_REASON);
  const name = `arb_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  t.after(async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  return url.toString();
}

/** A migrated database of the given dialect, closed in t.after. */
export async function tempDb(t: TestContext | { after: (fn: () => Promise<void> | void) => void }, dialect: TestDialect = defaultTestDialect()): Promise<DbHandle> {
  let handle: DbHandle;
  if (dialect === 'postgres') {
    const url = await createPgDatabase(t as never);
    handle = await openAndMigrate({ databaseUrl: url, poolSize: 5 });
  } else {
    const dir = tempDir(t as never);
    handle = await openAndMigrate({ dbName: join(dir, 'arbitrage.db') });
  }
  (t as { after: (fn: () => Promise<void>) => void }).after(() => handle.close());
  return handle;
}

/**
 * Environment for a spawned daemon or CLI pointing at a fresh database of the default test dialect:
 * `{ DB_NAME }` (a file in `dir`) or `{ DATABASE_URL }` (a fresh PostgreSQL database).
 */
export async function tempDbEnv(t: { after: (fn: () => Promise<void>) => void }, dir: string, dialect: TestDialect = defaultTestDialect()): Promise<Record<string, string>> {
  if (dialect === 'postgres') return { DATABASE_URL: await createPgDatabase(t) };
  return { DB_NAME: join(dir, 'arbitrage.db') };
}
