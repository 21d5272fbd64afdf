/**
 * Backups of a PostgreSQL database (SPEC §6 `arb backup` / `arb restore` with DATABASE_URL), with the
 * PostgreSQL client tools.
 *
 * Backup: `pg_dump --format=custom` inside a snapshot this process exports (so the row counts it reports
 * are those of the dump), then `pg_restore` reads the whole archive back (every compressed data block)
 * before it is published as `arbitrage_YYYYMMDD-HHMMSS.dump` + `arbitrage_latest.dump`, listed with its
 * SHA-256 in `SHA256SUMS` (the same manifest as the SQLite backups; `sha256sum -c` works).
 *
 * Restore: everything is verified before the database is touched — the custom-format header, the
 * SHA-256 when SHA256SUMS lists the file, an arb table of contents, a schema not newer than this arb, and
 * a complete conversion to SQL by pg_restore (a damaged archive fails here). The current database is
 * kept as `arbitrage_<stamp>.pre-restore.dump`, then `psql --single-transaction` drops arb's tables and
 * loads the backup in ONE transaction: if anything fails, PostgreSQL rolls it all back and the old data
 * stays. Migrations then bring an older backup up to date (the caller runs them).
 *
 * Passwords never reach a command line or a message: the tools get the URL without its password and
 * PGPASSWORD in their environment.
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { ArbError } from '../errors.js';
import { BackupError, backupStamp, createPrivateFile, ENCRYPTION_OFF, ensureWritableDir, MANIFEST_NAME, publishBackupFile, readManifest, saveManifest, sha256File } from './backup.js';
import { AGE_SUFFIX, encryptFile } from './encryption.js';
import { isPidAlive } from '../metering/instances.js';
import { toDbTime } from '../time.js';
import { findBackupFile, RestoreRefusedError, refuseNewerSchema, type BackupInspection, type LiveInstance } from './restore.js';

export const PG_LATEST_NAME = 'arbitrage_latest.dump';
export const PG_SQL_LATEST_NAME = 'arbitrage_latest.sql';
const PG_TIMESTAMPED = /^arbitrage_(\d{8}-\d{6})(?:-(\d+))?\.dump(?:\.age)?$/;
const PG_MAGIC = 'PGDMP';
/** tables every arb database has (the TOC of a dump must list them) */
const ARB_TABLES = ['kysely_migration', 'users', 'transactions', 'ai_token_packages', 'ai_token_allocations'];
/** tables whose row counts are reported */
const COUNTED = ['users', 'transactions', 'ai_token_packages', 'ai_token_allocations', 'usage_events'];

// ------------------------------------------------------------------------------------------ tools

/** A PostgreSQL client tool is missing from PATH. */
export class PgToolMissingError extends ArbError {
  override readonly code = 'ARB_PG_TOOL_MISSING';
}

interface ToolResult {
  code: number;
  /** set when the tool died of a signal (pg_restore can crash on a damaged archive) */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The URL without its password, and the environment that carries the password instead. */
export function pgConnection(databaseUrl: string): { url: string; env: NodeJS.ProcessEnv; shown: string } {
  const u = new URL(databaseUrl);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  const url = u.toString();
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' };
  if (password !== undefined) env.PGPASSWORD = password;
  return { url, env, shown: `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}` };
}

/**
 * Runs a client tool; PgToolMissingError when it is not installed. stdout is kept (up to a few MB), or
 * goes straight to the file descriptor `stdoutFd`.
 */
function runTool(tool: 'pg_dump' | 'pg_restore' | 'psql', args: string[], env: NodeJS.ProcessEnv, stdoutFd?: number): Promise<ToolResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 8 << 20) stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(
          new PgToolMissingError(
            `${tool} is not installed (or not on PATH): arb backup/restore on PostgreSQL use pg_dump, pg_restore and psql; install the PostgreSQL client tools for your server's version (Debian/Ubuntu: apt-get install postgresql-client) and rerun (nothing was changed)`,
          ),
        );
      } else reject(err);
    });
    child.on('close', (code, signal) => resolvePromise({ code: code ?? 1, signal, stdout, stderr }));
  });
}

/** The useful part of a tool's stderr, one line. */
function toolMessage(r: ToolResult): string {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(pg_restore|pg_dump|psql): (detail|hint): *$/i.test(l));
  const found = lines.find((l) => /error|fatal|failed|could not|invalid|unexpected/i.test(l)) ?? lines[0];
  if (found) return found.replace(/\s+/g, ' ');
  return r.signal ? `crashed with ${r.signal}` : `exit code ${r.code}`;
}

// ------------------------------------------------------------------------------------------ backup

export type PgBackupStep = 'dump' | 'verify' | 'encrypt' | 'checksum' | 'publish' | 'prune';
export const PG_BACKUP_STEPS: readonly PgBackupStep[] = ['dump', 'verify', 'encrypt', 'checksum', 'publish', 'prune'];

export interface PgBackupOptions {
  databaseUrl: string;
  dir: string;
  keep?: number;
  now?: Date;
  dirSource?: string;
  /** age recipients (BACKUP_ENCRYPTION_RECIPIENT): set ⇒ the dump and its SQL are published encrypted (.age) */
  recipients?: readonly string[];
  onStep?: (step: PgBackupStep, state: 'start' | 'done', detail?: string) => void;
}

export interface PgBackupResult {
  file: string;
  latest: string;
  manifest: string;
  bytes: number;
  sha256: string;
  format: 'pg_dump custom';
  /** the plain-SQL companion (`psql DB < file` restores it in one transaction) and its "latest" copy */
  sql: string;
  sqlLatest: string;
  /** 'ok': pg_restore read every entry back */
  integrity: 'ok';
  encrypted: boolean;
  pruned: string[];
  kept: string[];
  tables: Record<string, number>;
}

/** Timestamped PostgreSQL dumps in `dir`, newest first. */
export function listPgBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => PG_TIMESTAMPED.test(n))
    .sort((a, b) => {
      const [, sa, na] = PG_TIMESTAMPED.exec(a)!;
      const [, sb, nb] = PG_TIMESTAMPED.exec(b)!;
      return sb.localeCompare(sa) || Number(nb ?? 0) - Number(na ?? 0);
    });
}

async function pgClient(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {
    /* surfaces on the next query */
  });
  try {
    await client.connect();
  } catch (e) {
    throw new BackupError(`cannot connect to the PostgreSQL database ${pgConnection(databaseUrl).shown}: ${(e as Error).message}; check DATABASE_URL (nothing was changed)`, { cause: e });
  }
  return client;
}

/** Dumps `databaseUrl` to `file` (custom format); row counts of the same snapshot. */
async function dumpDatabase(databaseUrl: string, file: string): Promise<Record<string, number>> {
  const conn = pgConnection(databaseUrl);
  const client = await pgClient(databaseUrl);
  try {
    // one snapshot for the counts and pg_dump: the counts describe exactly what the dump holds
    await client.query('begin isolation level repeatable read read only');
    const { rows } = await client.query<{ s: string }>('select pg_export_snapshot() as s');
    const tables: Record<string, number> = {};
    for (const t of COUNTED) {
      try {
        await client.query('savepoint c');
        const r = await client.query<{ n: string }>(`select count(*) as n from ${t}`);
        tables[t] = Number(r.rows[0].n);
        await client.query('release savepoint c');
      } catch {
        await client.query('rollback to savepoint c');
      }
    }
    const r = await runTool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${rows[0].s}`, `--file=${file}`, `--dbname=${conn.url}`], conn.env);
    if (r.code !== 0) throw new BackupError(`pg_dump failed on ${conn.shown}: ${toolMessage(r)} (nothing was published)`);
    await client.query('commit');
    return tables;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Writes the plain-SQL companion of a custom-format dump: pg_restore reads the whole archive back (every
 * data block — this is also the dump's verification) into a script that replaces schema public in ONE
 * transaction and stops at the first error, so the manual's `psql arbitrage_prod < arbitrage_latest.sql`
 * restores everything or nothing, on an empty database as on the damaged one it replaces.
 */
async function writePlainSql(dump: string, target: string, shown: string): Promise<void> {
  createPrivateFile(target);
  const fd = openSync(target, 'a');
  try {
    writeSync(
      fd,
      [
        `-- arb backup ${shown} of a PostgreSQL database, as plain SQL (pg_restore of the custom-format dump).`,
        '-- Restores the whole database in one transaction; on any error nothing is changed:',
        '--   psql arbitrage_prod < arbitrage_latest.sql',
        '-- Stop the daemon first (systemctl stop arb, or docker-compose stop app). Everything in schema public is replaced.',
        '\\set ON_ERROR_STOP on',
        'BEGIN;',
        CLEAR_PUBLIC_SCHEMA,
        '',
      ].join('\n'),
    );
    const r = await runTool('pg_restore', ['--no-owner', '--no-privileges', '--file=-', dump], process.env, fd);
    if (r.code !== 0) throw new BackupError(`the dump ${basename(dump)} could not be read back by pg_restore: ${toolMessage(r)}`);
    writeSync(fd, '\nCOMMIT;\n');
  } finally {
    closeSync(fd);
  }
}

/** Timestamped dump name → its plain-SQL companion's name (`arbitrage_X.dump[.age]` → `arbitrage_X.sql[.age]`). */
export function sqlCompanionName(dumpName: string): string {
  return dumpName.replace(/\.dump(\.age)?$/, '.sql$1');
}

/** Takes a verified backup of the PostgreSQL database with pg_dump (custom format + a plain-SQL companion). */
export async function createPgBackup(options: PgBackupOptions): Promise<PgBackupResult> {
  const dir = ensureWritableDir(options.dir, options.dirSource);
  const step = options.onStep ?? (() => {});
  const encrypt = (options.recipients?.length ?? 0) > 0;
  const suffix = encrypt ? AGE_SUFFIX : '';
  const stamp = backupStamp(options.now ?? new Date());
  let base = `arbitrage_${stamp}`;
  for (let i = 2; [`${base}.dump`, `${base}.dump${AGE_SUFFIX}`].some((n) => existsSync(join(dir, n))); i++) base = `arbitrage_${stamp}-${i}`;
  const name = `${base}.dump${suffix}`;
  const sqlName = `${base}.sql${suffix}`;
  const partial = join(dir, `.${base}.dump.partial`);
  const sqlPartial = join(dir, `.${base}.sql.partial`);
  const temporary = [partial, sqlPartial, `${partial}${AGE_SUFFIX}`, `${sqlPartial}${AGE_SUFFIX}`];
  for (const f of temporary) rmSync(f, { force: true });
  try {
    step('dump', 'start');
    createPrivateFile(partial);
    const tables = await dumpDatabase(options.databaseUrl, partial);
    step('dump', 'done', `${statSync(partial).size.toLocaleString('en-US')} bytes`);

    step('verify', 'start');
    await inspectToc(partial, name);
    await writePlainSql(partial, sqlPartial, `${base}.dump`);
    step('verify', 'done', 'pg_restore read it back (plain SQL written)');

    step('encrypt', 'start');
    let dumpOut = partial;
    let sqlOut = sqlPartial;
    if (encrypt) {
      await encryptFile(partial, (dumpOut = `${partial}${AGE_SUFFIX}`), options.recipients!);
      await encryptFile(sqlPartial, (sqlOut = `${sqlPartial}${AGE_SUFFIX}`), options.recipients!);
      rmSync(partial, { force: true });
      rmSync(sqlPartial, { force: true });
    }
    step('encrypt', 'done', encrypt ? `age, ${options.recipients!.length} recipient${options.recipients!.length > 1 ? 's' : ''}` : ENCRYPTION_OFF);

    step('checksum', 'start');
    const sha256 = await sha256File(dumpOut);
    const sqlSha256 = await sha256File(sqlOut);
    step('checksum', 'done', sha256.slice(0, 16));

    step('publish', 'start');
    const manifest = readManifest(dir);
    const other = encrypt ? '' : AGE_SUFFIX;
    const sqlPublished = publishBackupFile(dir, sqlOut, sqlName, `${PG_SQL_LATEST_NAME}${suffix}`, [`${PG_SQL_LATEST_NAME}${other}`], sqlSha256, manifest);
    const { file, latest } = publishBackupFile(dir, dumpOut, name, `${PG_LATEST_NAME}${suffix}`, [`${PG_LATEST_NAME}${other}`], sha256, manifest);
    step('publish', 'done', name);

    step('prune', 'start');
    const pruned: string[] = [];
    if (options.keep !== undefined) {
      for (const old of listPgBackups(dir).slice(options.keep)) {
        for (const f of [old, sqlCompanionName(old)]) {
          if (!existsSync(join(dir, f))) continue;
          rmSync(join(dir, f), { force: true });
          manifest.delete(f);
          pruned.push(f);
        }
      }
    }
    const manifestFile = saveManifest(dir, manifest);
    step('prune', 'done', pruned.length ? `removed ${pruned.length}` : 'nothing to remove');
    return {
      file,
      latest,
      sql: sqlPublished.file,
      sqlLatest: sqlPublished.latest,
      manifest: manifestFile,
      bytes: statSync(file).size,
      sha256,
      format: 'pg_dump custom',
      integrity: 'ok',
      encrypted: encrypt,
      pruned,
      kept: listPgBackups(dir),
      tables,
    };
  } finally {
    for (const f of temporary) rmSync(f, { force: true });
  }
}

// ------------------------------------------------------------------------------------------ restore

export interface PgBackupInspection extends BackupInspection {
  /** the backup as SQL (pg_restore output), loaded by restorePgBackup; the caller removes it */
  sqlFile: string;
}

function readHeader(file: string, n: number): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** Table names in the archive's TOC (schema public); refuses archives that are not arb's. */
async function inspectToc(file: string, shown: string): Promise<Set<string>> {
  const r = await runTool('pg_restore', ['--list', file], process.env);
  if (r.code !== 0) throw new RestoreRefusedError(`file: ${shown} is not a readable pg_dump archive (pg_restore: ${toolMessage(r)}); pick another backup`, 'file');
  const tables = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+; \d+ \d+ TABLE (\S+) (\S+) /.exec(line);
    if (m && m[1] === 'public') tables.add(m[2]);
  }
  const missing = ARB_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) throw new RestoreRefusedError(`file: ${shown} is not an arb database dump (no ${missing.join(', ')} table); pick a file written by arb backup`, 'file');
  return tables;
}

/** Row counts per COPY block and the kysely_migration names, read from pg_restore's SQL output. */
async function scanSql(sqlFile: string): Promise<{ counts: Record<string, number>; migrations: string[] }> {
  const counts: Record<string, number> = {};
  const migrations: string[] = [];
  let current: string | undefined;
  const rl = createInterface({ input: createReadStream(sqlFile, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (current === undefined) {
      const m = /^COPY public\.("?)([a-z_]+)\1 /.exec(line);
      if (m) current = m[2];
      continue;
    }
    if (line === '\\.') {
      current = undefined;
      continue;
    }
    counts[current] = (counts[current] ?? 0) + 1;
    if (current === 'kysely_migration') migrations.push(line.split('\t')[0]);
  }
  return { counts, migrations: migrations.sort() };
}

/**
 * Verifies a PostgreSQL backup; throws RestoreRefusedError (exit 2) saying why it cannot be restored.
 * On success the backup is already converted to SQL (`sqlFile`, in `workDir`).
 */
export async function inspectPgBackup(file: string, knownMigrations: readonly string[], workDir: string): Promise<PgBackupInspection> {
  const shown = basename(file);
  const head = readHeader(file, 16);
  if (!head.startsWith(PG_MAGIC)) {
    const sqlite = head === 'SQLite format 3\0';
    throw new RestoreRefusedError(
      sqlite
        ? `file: ${shown} is an SQLite backup, but DATABASE_URL points arb at PostgreSQL; restore a .dump written by arb backup on PostgreSQL (or unset DATABASE_URL to restore the SQLite database)`
        : head.startsWith('--')
          ? `file: ${shown} is the plain-SQL companion of a backup; arb restore takes the .dump file next to it (or load this one yourself: psql DB < ${shown})`
          : `file: ${shown} is not a pg_dump archive (wrong header); pick a .dump file written by arb backup`,
      'file',
    );
  }
  const sha256 = await sha256File(file);
  const listed = readManifest(dirname(file)).get(shown);
  if (listed !== undefined && listed !== sha256) {
    throw new RestoreRefusedError(`file: ${shown} does not match its SHA-256 in ${join(dirname(file), MANIFEST_NAME)} (the file changed or is damaged); pick another backup`, 'file');
  }
  await inspectToc(file, shown);
  const sqlFile = join(workDir, `.${shown}.restore.sql`);
  rmSync(sqlFile, { force: true });
  try {
    const r = await runTool('pg_restore', ['--no-owner', '--no-privileges', `--file=${sqlFile}`, file], process.env);
    if (r.code !== 0) throw new RestoreRefusedError(`file: ${shown} is damaged (pg_restore: ${toolMessage(r)}); pick another backup`, 'file');
    const { counts, migrations } = await scanSql(sqlFile);
    refuseNewerSchema(shown, migrations, knownMigrations);
    const tables: Record<string, number> = {};
    for (const t of COUNTED) tables[t] = counts[t] ?? 0;
    return { file, bytes: statSync(file).size, sha256, migrations, schema: migrations[migrations.length - 1] ?? null, tables, checksumListed: listed !== undefined, sqlFile };
  } catch (e) {
    rmSync(sqlFile, { force: true });
    throw e;
  }
}

/** Finds the dump an operator named: a path, a name in the backup directory, or "latest". */
export function resolvePgBackupFile(text: string, backupDir: string): string {
  return findBackupFile(text, backupDir, PG_LATEST_NAME);
}


/** Daemon replicas that look alive on this database (fresh heartbeat; on this host, a live pid). */
export async function pgLiveInstances(databaseUrl: string, hostname: string, now: Date = new Date(), staleAfterMs = 60_000): Promise<LiveInstance[]> {
  const client = await pgClient(databaseUrl);
  try {
    const fresh = toDbTime(new Date(now.getTime() - staleAfterMs));
    const { rows } = await client.query<{ instance_id: string; pid: number; hostname: string; heartbeat_at: string }>(
      'select instance_id, pid, hostname, heartbeat_at from instances where heartbeat_at >= $1',
      [fresh],
    );
    return rows
      .filter((r) => r.hostname !== hostname || isPidAlive(Number(r.pid)))
      .map((r) => ({ instanceId: r.instance_id, pid: Number(r.pid), hostname: r.hostname, heartbeatAt: r.heartbeat_at }));
  } catch {
    return []; // no instances table (empty or foreign database): nothing to protect
  } finally {
    await client.end().catch(() => {});
  }
}

export type PgRestoreStep = 'keep-current' | 'replace';
export const PG_RESTORE_STEPS: readonly PgRestoreStep[] = ['keep-current', 'replace'];

export interface PgRestoreOptions {
  databaseUrl: string;
  backup: PgBackupInspection;
  /** where the pre-restore dump of the current database goes (BACKUP_DIR) */
  dir: string;
  /** age recipients: the pre-restore dump (in BACKUP_DIR, like every backup) is kept encrypted */
  recipients?: readonly string[];
  now?: Date;
  onStep?: (step: PgRestoreStep, state: 'start' | 'done', detail?: string) => void;
}

export interface PgRestoreResult {
  database: string;
  restoredFrom: string;
  preRestore: string;
  sha256: string;
}

/**
 * Drops what is in schema public (arb's tables, their sequences, views, functions — not objects that
 * belong to extensions) inside the restore transaction, so the backup loads into a clean schema.
 */
const CLEAR_PUBLIC_SCHEMA = `
DO $arb_restore$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE WHEN r.relkind = 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, r.name);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP TABLE IF EXISTS %s CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'S'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS %s CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.name);
  END LOOP;
END
$arb_restore$;
`;

/**
 * Replaces the database's contents with a verified backup, keeping the current contents as a dump
 * first. The load is one transaction: a failure leaves the database exactly as it was.
 */
export async function restorePgBackup(options: PgRestoreOptions): Promise<PgRestoreResult> {
  const step = options.onStep ?? (() => {});
  const conn = pgConnection(options.databaseUrl);
  const dir = ensureWritableDir(options.dir);

  step('keep-current', 'start');
  const encrypt = (options.recipients?.length ?? 0) > 0;
  const preRestore = join(dir, `arbitrage_${backupStamp(options.now ?? new Date())}.pre-restore.dump${encrypt ? AGE_SUFFIX : ''}`);
  const partial = `${preRestore}.partial`;
  const plainPartial = `${partial}.plain`;
  rmSync(partial, { force: true });
  rmSync(plainPartial, { force: true });
  try {
    createPrivateFile(plainPartial);
    const dumped = await runTool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${plainPartial}`, `--dbname=${conn.url}`], conn.env);
    if (dumped.code !== 0) throw new BackupError(`could not keep a copy of the current database (pg_dump: ${toolMessage(dumped)}); nothing was changed`);
    if (encrypt) await encryptFile(plainPartial, partial, options.recipients!);
    renameSync(encrypt ? partial : plainPartial, preRestore);
  } finally {
    rmSync(partial, { force: true });
    rmSync(plainPartial, { force: true });
  }
  step('keep-current', 'done', basename(preRestore));

  step('replace', 'start');
  const prelude = join(dirname(options.backup.sqlFile), `.arb-restore-prelude-${process.pid}.sql`);
  writeFileSync(prelude, CLEAR_PUBLIC_SCHEMA);
  try {
    const r = await runTool('psql', ['-X', '--quiet', '--no-psqlrc', '--single-transaction', '-v', 'ON_ERROR_STOP=1', '--file', prelude, '--file', options.backup.sqlFile, `--dbname=${conn.url}`], conn.env);
    if (r.code !== 0) {
      throw new BackupError(
        `restore failed and was rolled back — the database is unchanged (psql: ${toolMessage(r)}); the current data is also kept in ${preRestore}`,
      );
    }
  } finally {
    rmSync(prelude, { force: true });
  }
  step('replace', 'done');
  return { database: conn.shown, restoredFrom: options.backup.file, preRestore, sha256: options.backup.sha256 };
}

/** Row counts of the main tables (after a restore). */
export async function pgTableCounts(databaseUrl: string): Promise<Record<string, number>> {
  const client = await pgClient(databaseUrl);
  try {
    const out: Record<string, number> = {};
    for (const t of COUNTED) {
      try {
        out[t] = Number((await client.query<{ n: string }>(`select count(*) as n from ${t}`)).rows[0].n);
      } catch {
        /* missing table */
      }
    }
    return out;
  } finally {
    await client.end().catch(() => {});
  }
}
