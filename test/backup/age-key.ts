/** A throwaway age key pair for tests: an identity file as age-keygen writes it, and its public key. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';

export async function ageKey(dir: string, name = 'key.txt'): Promise<{ file: string; recipient: string }> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const file = join(dir, name);
  writeFileSync(file, `# created: 2026-12-06T10:00:00Z\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  return { file, recipient };
}
