/** `arb backup`: a verified online copy (progress screen on a TTY, text or JSON otherwise). */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { BACKUP_STEPS, createBackup, ensureWritableDir, type BackupStep } from '../../src/backup/backup.js';
import { openDb } from '../../src/db/dialect.js';
import { InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { parseIntegerOption } from '../ui/options.js';
import { startProgress } from '../ui/screens.js';
import type { BackupCommandOptions } from './index.js';

const LABELS: Record<BackupStep, string> = {
  snapshot: 'Snapshot (VACUUM INTO)',
  verify: 'Integrity check of the copy',
  checksum: 'SHA-256',
  publish: 'Publish + arbitrage_latest.db',
  prune: 'Prune old backups',
};

export function sqliteFileOrRefuse(ctx: CommandContext, command: string): string {
  if (ctx.config.databaseUrl) {
    throw new InputError(`DATABASE_URL: ${command} works on the SQLite database only for now; for PostgreSQL use pg_dump / pg_restore`, 'DATABASE_URL');
  }
  return resolve(ctx.config.dbName);
}

export async function runBackup(ctx: CommandContext, opts: BackupCommandOptions): Promise<number> {
  if (ctx.config.databaseUrl) return (await import('./postgres.js')).runPgBackup(ctx, opts); // pg_dump
  const dbFile = sqliteFileOrRefuse(ctx, 'arb backup');
  const keep = opts.keep === undefined ? undefined : parseIntegerOption(opts.keep, '--keep', 1, 100_000, '--keep 7');
  const dirSource = opts.dir !== undefined ? '--dir' : 'BACKUP_DIR';
  const dir = ensureWritableDir(opts.dir ?? ctx.config.backupDir, dirSource);
  if (!existsSync(dbFile)) {
    throw new InputError(`DB_NAME: there is no database at ${dbFile}, so nothing to back up; check DB_NAME (or run arb where its .env is)`, 'DB_NAME');
  }
  const handle = openDb({ dbName: dbFile });
  const progress = await startProgress(ctx, `arb backup → ${dir}`, BACKUP_STEPS.map((s) => LABELS[s]));
  let result;
  try {
    result = await createBackup(handle, {
      dir,
      keep,
      dirSource,
      onStep: (step, state, detail) => {
        const i = BACKUP_STEPS.indexOf(step);
        if (state === 'start') progress.start(i, detail);
        else progress.finish(i, 'done', detail);
      },
      onProgress: (f) => progress.advance(f),
    });
  } catch (e) {
    await progress.close();
    throw e;
  } finally {
    await handle.close();
  }
  await progress.close();
  reportBackup(ctx, result, { json: opts.json, summary: (bytes) => `${bytes} bytes, integrity ok` });
  return 0;
}

/** What both backup paths (SQLite and PostgreSQL) report: one JSON document or three lines, and a business event. */
export interface BackupReport {
  file: string;
  latest: string;
  manifest: string;
  bytes: number;
  sha256: string;
  /** PostgreSQL only: the dump format */
  format?: string;
  integrity: string;
  tables: Record<string, number>;
  pruned: string[];
  kept: unknown;
}

export function reportBackup(
  ctx: CommandContext,
  result: BackupReport,
  opts: { json?: boolean; summary: (bytes: string) => string; dialect?: 'postgres' },
): void {
  if (opts.json) {
    writeJson(ctx.stdout, {
      file: result.file,
      latest: result.latest,
      manifest: result.manifest,
      bytes: result.bytes,
      sha256: result.sha256,
      ...(result.format === undefined ? {} : { format: result.format }),
      integrity: result.integrity,
      tables: result.tables,
      pruned: result.pruned,
      kept: result.kept,
    });
  } else {
    const shown = (f: string) => relative(process.cwd(), f) || f;
    ctx.stdout.write(`backup written: ${shown(result.file)} (${opts.summary(result.bytes.toLocaleString('en-US'))})\n`);
    ctx.stdout.write(`sha256 ${result.sha256}  (listed in ${shown(result.manifest)})\n`);
    ctx.stdout.write(`latest: ${shown(result.latest)}\n`);
    if (result.pruned.length) ctx.stdout.write(`pruned: ${result.pruned.join(', ')}\n`);
  }
  ctx.logger().info(
    { business_event: true, event_type: 'backup_created', file: result.file, bytes: result.bytes, sha256: result.sha256, pruned: result.pruned.length, ...(opts.dialect ? { dialect: opts.dialect } : {}) },
    'backup created',
  );
}
