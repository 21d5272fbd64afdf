/**
 * Helpers for the spawned-CLI tests (one file per command group): run `node bin/arb.js …` with
 * the sources, or dist/ (CLI_FROM_SOURCE, support/cli.ts), in a temp cwd whose DB_NAME / LOG_DIR / BACKUP_DIR point into a temp dir, and a
 * small shop seeded through the real ledger. `arbEnvDb` follows the suite's dialect (a fresh PostgreSQL
 * database via DATABASE_URL when ARB_TEST_DIALECT=postgres); `arbEnv` is always SQLite (for SQLite-only tests).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { DbHandle, OpenDbOptions } from '../../src/db/dialect.js';
import { tempDbEnv } from '../support/db.js';
import { insertModel } from '../support/models.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { toDbTime } from '../../src/time.js';
import type { Logger } from '../../src/logger.js';
import { CLI_FROM_SOURCE } from '../support/cli.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const ARB = join(ROOT, 'bin', 'arb.js');

export interface ArbEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** the SQLite file (DB_NAME); unused when `db` is PostgreSQL */
  dbFile: string;
  /** how the test opens the same database the CLI uses */
  db: OpenDbOptions;
  logDir: string;
  backupDir: string;
}

/** A clean environment (nothing inherited that could reach the internet or a real bot) inside `dir`. */
export function arbEnv(dir: string, extra: Record<string, string> = {}): ArbEnv {
  const dbFile = join(dir, 'arbitrage.db');
  const logDir = join(dir, 'logs');
  const backupDir = join(dir, 'backup');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ARB_FROM_SOURCE: CLI_FROM_SOURCE,
    DB_NAME: dbFile,
    LOG_DIR: logDir,
    BACKUP_DIR: backupDir,
    OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1',
    ...extra,
  };
  return { dir, env, dbFile, logDir, backupDir, db: { dbName: dbFile } };
}

/** Like arbEnv, on the suite's default test dialect (SQLite, or PostgreSQL with ARB_TEST_DIALECT=postgres). */
export async function arbEnvDb(t: { after: (fn: () => Promise<void>) => void }, dir: string, extra: Record<string, string> = {}): Promise<ArbEnv> {
  const base = arbEnv(dir, extra);
  const dbEnv = await tempDbEnv(t, dir);
  if (!dbEnv.DATABASE_URL) return base;
  return { ...base, env: { ...base.env, DATABASE_URL: dbEnv.DATABASE_URL }, db: { databaseUrl: dbEnv.DATABASE_URL, poolSize: 2 } };
}

export interface ArbResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function runArb(args: readonly string[], env: ArbEnv, opts: { input?: string; nodeArgs?: string[] } = {}): Promise<ArbResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ARB, ...args], { cwd: env.dir, env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), as an operator would; when the output shows
 * `waitFor`, types `answer`. Resolves with everything the terminal showed.
 */
export function runArbOnTty(args: readonly string[], env: ArbEnv, opts: { waitFor?: string; answer?: string } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const quoted = [process.execPath, ARB, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { cwd: env.dir, env: { ...env.env, TERM: 'xterm', COLUMNS: '120' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (!answered && opts.waitFor && opts.answer !== undefined && output.includes(opts.waitFor)) {
        answered = true;
        child.stdin.write(opts.answer);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

export const GPT4 = { model: 'openai/gpt-4', promptRate: 30_000_000, completionRate: 60_000_000 };
export const CLAUDE = { model: 'anthropic/claude-3-haiku', promptRate: 250_000, completionRate: 1_250_000 };

/** Inserts a model and a package priced by hand (cost, price in µ$); returns the package id. */
export async function addPackage(
  handle: DbHandle,
  m: { model: string; promptRate: number; completionRate: number },
  p: { tokens: number; cost: number; price: number; available?: boolean; validityDays?: number },
): Promise<number> {
  const now = toDbTime(new Date());
  await insertModel(handle, m, now);
  const row = await handle.db
    .insertInto('ai_token_packages')
    .values({
      model: m.model,
      tokens: p.tokens,
      description: `${m.model} ${p.tokens}`,
      category_id: null,
      subcategory_id: null,
      cost: p.cost,
      price: p.price,
      validity_days: p.validityDays ?? 30,
      is_available: p.available === false ? 0 : 1,
      hold_reason: null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Records a settled request (usage event + tokens_used), as the proxy would. */
export async function addUsage(
  handle: DbHandle,
  allocationId: number,
  u: { requestId: string; model: string; weighted: number; upstreamCost: number; latencyMs?: number; outcome?: 'ok' | 'upstream_error' | 'client_abort' | 'timeout'; at?: Date },
): Promise<void> {
  await handle.db
    .insertInto('usage_events')
    .values({
      request_id: u.requestId,
      allocation_id: allocationId,
      model: u.model,
      prompt_tokens: u.weighted,
      completion_tokens: 0,
      weighted_tokens: u.weighted,
      loss_tokens: 0,
      upstream_cost: u.upstreamCost,
      latency_ms: u.latencyMs ?? 500,
      status_code: u.outcome === 'upstream_error' ? 502 : 200,
      outcome: u.outcome ?? 'ok',
      estimated: 0,
      stream: 0,
      created_at: toDbTime(u.at ?? new Date()),
    })
    .execute();
  await sql`update ai_token_allocations set tokens_used = tokens_used + ${u.weighted} where id = ${allocationId}`.execute(handle.db);
}

export interface SeededShop {
  gpt4PackageId: number;
  claudePackageId: number;
  /** allocation ids by purchase */
  allocations: number[];
  keys: string[];
}

/**
 * A small shop: two packages, three customers, four purchases (one free grant), four usage events (one failed upstream), all through the real ledger so `auditLedger` is clean.
 */
export async function seedShop(handle: DbHandle, logger?: Logger): Promise<SeededShop> {
  const gpt4PackageId = await addPackage(handle, GPT4, { tokens: 100_000, cost: 3_000_000, price: 3_750_000 });
  const claudePackageId = await addPackage(handle, CLAUDE, { tokens: 1_000_000, cost: 250_000, price: 320_000 });
  const deps = { handle, logger, config: { packageValidityDays: 30 } };
  await creditUser(deps, { telegramId: 1001, amountMicros: 20_000_000, type: 'topup', reference: 'pay-1' });
  await creditUser(deps, { telegramId: 1002, amountMicros: 5_000_000, type: 'topup', reference: 'pay-2' });
  const allocations: number[] = [];
  const keys: string[] = [];
  for (const [telegramId, packageId, free] of [
    [1001, gpt4PackageId, false],
    [1001, claudePackageId, false],
    [1002, gpt4PackageId, false],
    [1003, claudePackageId, true],
  ] as const) {
    const r = await purchasePackage(deps, { telegramId, packageId, free });
    allocations.push(r.allocation.id);
    keys.push(r.apiKey!);
  }
  await addUsage(handle, allocations[0], { requestId: 'r1', model: GPT4.model, weighted: 1_000, upstreamCost: 30_000, latencyMs: 800 });
  await addUsage(handle, allocations[0], { requestId: 'r2', model: GPT4.model, weighted: 2_000, upstreamCost: 60_000, latencyMs: 1200 });
  await addUsage(handle, allocations[1], { requestId: 'r3', model: CLAUDE.model, weighted: 10_000, upstreamCost: 2_500, latencyMs: 300 });
  await addUsage(handle, allocations[1], { requestId: 'r4', model: CLAUDE.model, weighted: 0, upstreamCost: 0, latencyMs: 3000, outcome: 'upstream_error' });
  return { gpt4PackageId, claudePackageId, allocations, keys };
}
