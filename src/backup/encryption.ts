/**
 * Encrypted backups in the age format (https://age-encryption.org), with the `age-encryption` library:
 * with BACKUP_ENCRYPTION_RECIPIENT (age public keys) every backup file is written as `<name>.age`, which
 * `age -d -i key.txt` opens; `arb restore` decrypts with the identity file BACKUP_ENCRYPTION_IDENTITY.
 * The server only needs the public key: a stolen backup directory (or server) reveals nothing.
 *
 * Files are streamed (64 KiB chunks), so a large database never sits in memory.
 */
import { createReadStream, createWriteStream, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter } from 'age-encryption';
import { InputError } from '../errors.js';
import { readManifest, sha256File } from './backup.js';

export const AGE_SUFFIX = '.age';
const AGE_MAGIC = 'age-encryption.org/v1\n';
const AGE_ARMOR = '-----BEGIN AGE ENCRYPTED FILE-----';

/** A backup could not be decrypted (no identity, wrong identity, damaged file). Nothing was changed. */
export class BackupDecryptError extends InputError {
  override readonly code = 'ARB_BACKUP_DECRYPT';
}

function head(file: string, n: number): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** True when `file` is an age-encrypted file (binary; armored files are refused by decryptFile). */
export function isAgeFile(file: string): boolean {
  const h = head(file, AGE_ARMOR.length);
  return h.startsWith(AGE_MAGIC) || h.startsWith(AGE_ARMOR);
}

const toWeb = (file: string) => Readable.toWeb(createReadStream(file, { highWaterMark: 64 * 1024 })) as unknown as ReadableStream<Uint8Array>;

async function writeStream(stream: ReadableStream<Uint8Array>, dest: string): Promise<void> {
  await pipeline(Readable.fromWeb(stream as unknown as NodeReadableStream<Uint8Array>), createWriteStream(dest, { mode: 0o600, flags: 'wx' }));
}

/** Encrypts `src` to `dest` (created 0600, must not exist) for every recipient. */
export async function encryptFile(src: string, dest: string, recipients: readonly string[]): Promise<void> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  await writeStream(await e.encrypt(toWeb(src)), dest);
}

/**
 * Reads the age identities (AGE-SECRET-KEY-1… lines, as age-keygen writes them) from the file named by
 * BACKUP_ENCRYPTION_IDENTITY; a clear error naming the setting otherwise.
 */
export function readIdentities(identityFile: string | undefined, encryptedFile: string): string[] {
  const shown = basename(encryptedFile);
  if (identityFile === undefined) {
    throw new BackupDecryptError(
      `BACKUP_ENCRYPTION_IDENTITY: ${shown} is encrypted (age); set BACKUP_ENCRYPTION_IDENTITY to the file with its secret key (AGE-SECRET-KEY-1…, from age-keygen) and rerun (nothing was changed)`,
      'BACKUP_ENCRYPTION_IDENTITY',
    );
  }
  let text: string;
  try {
    text = readFileSync(identityFile, 'utf8');
  } catch (e) {
    throw new BackupDecryptError(`BACKUP_ENCRYPTION_IDENTITY: cannot read ${identityFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); point it at the age identity file (nothing was changed)`, 'BACKUP_ENCRYPTION_IDENTITY', { cause: e });
  }
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(l));
  if (keys.length === 0) {
    throw new BackupDecryptError(
      `BACKUP_ENCRYPTION_IDENTITY: ${identityFile} holds no age secret key (expected a line AGE-SECRET-KEY-1…, as age-keygen writes; passphrase-protected identities are not supported: decrypt it with age -d first) (nothing was changed)`,
      'BACKUP_ENCRYPTION_IDENTITY',
    );
  }
  return keys;
}

/** Decrypts `src` to `dest` (created 0600, must not exist); BackupDecryptError when it cannot. */
export async function decryptFile(src: string, dest: string, identities: readonly string[], identityFile: string): Promise<void> {
  const shown = basename(src);
  if (head(src, AGE_ARMOR.length).startsWith(AGE_ARMOR)) {
    throw new BackupDecryptError(`file: ${shown} is ASCII-armored; arb writes binary age files: convert it with age -d -i KEY ${shown} > plain, or pick the .age file arb backup wrote`, 'file');
  }
  const d = new Decrypter();
  for (const k of identities) d.addIdentity(k);
  try {
    await writeStream(await d.decrypt(toWeb(src)), dest);
  } catch (e) {
    rmSync(dest, { force: true });
    const message = (e as Error).message;
    if (/no identity matched/i.test(message)) {
      throw new BackupDecryptError(
        `BACKUP_ENCRYPTION_IDENTITY: the key in ${identityFile} does not open ${shown} (it was encrypted for another recipient); point BACKUP_ENCRYPTION_IDENTITY at the identity whose public key was BACKUP_ENCRYPTION_RECIPIENT when it was written (nothing was changed)`,
        'BACKUP_ENCRYPTION_IDENTITY',
        { cause: e },
      );
    }
    throw new BackupDecryptError(`file: ${shown} could not be decrypted (${message}); the file is damaged or not an age file: pick another backup (nothing was changed)`, 'file', { cause: e });
  }
}

export interface OpenedBackup {
  /** the file the operator named */
  source: string;
  /** a plaintext file to inspect and restore (the source itself when it is not encrypted) */
  plain: string;
  encrypted: boolean;
  /** the source (encrypted) file is listed in SHA256SUMS and matches */
  checksumListed: boolean;
  /** removes the decrypted copy */
  cleanup(): void;
}

/**
 * Prepares a backup for inspection: a plain file is returned as is; an age file has its SHA-256 checked
 * against SHA256SUMS and is decrypted into a private (0700) directory under `workDir`, named like the
 * source without `.age` (so messages name the backup), removed by `cleanup()`.
 */
export async function openBackup(source: string, opts: { identityFile: string | undefined; workDir: string; refuse: (message: string) => Error }): Promise<OpenedBackup> {
  if (!isAgeFile(source)) return { source, plain: source, encrypted: false, checksumListed: false, cleanup: () => {} };
  const shown = basename(source);
  const identities = readIdentities(opts.identityFile, source);
  const listed = readManifest(dirname(source)).get(shown);
  if (listed !== undefined && listed !== (await sha256File(source))) {
    throw opts.refuse(`file: ${shown} does not match its SHA-256 in ${join(dirname(source), 'SHA256SUMS')} (the file changed or is damaged); pick another backup`);
  }
  mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(opts.workDir, '.arb-restore-'));
  const plain = join(dir, shown.endsWith(AGE_SUFFIX) ? shown.slice(0, -AGE_SUFFIX.length) : `${shown}.plain`);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await decryptFile(source, plain, identities, opts.identityFile!);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { source, plain, encrypted: true, checksumListed: listed !== undefined, cleanup };
}

/** The age-encrypted variant of a backup name when only that one exists (`arb restore arbitrage_X.db` finds `arbitrage_X.db.age`). */
export function withAgeSuffixIfOnly(file: string): string {
  return !existsSync(file) && existsSync(`${file}${AGE_SUFFIX}`) ? `${file}${AGE_SUFFIX}` : file;
}
