/** The money check every proxy test ends with, once its calls are done. */
import assert from 'node:assert/strict';
import { auditLedger } from '../../src/ledger/audit.js';
import { allocation, openReservations, usageEvents, type Stack } from './harness.js';

/**
 * Waits until the daemon and the simulator are idle, then checks a key's books: tokens_used is the sum of
 * its usage events, nothing is held (no reserved tokens, no open reservation) and the ledger audits clean.
 * Returns the key's usage events, oldest first.
 */
export async function assertBooksBalance(stack: Pick<Stack, 'daemon' | 'sim' | 'handle'>, allocationId: number) {
  await stack.daemon.idle();
  await stack.sim.idle();
  const events = await usageEvents(stack.handle, allocationId);
  const a = await allocation(stack.handle, allocationId);
  assert.equal(
    a.tokens_used,
    events.reduce((n, e) => n + e.weighted_tokens, 0),
  );
  assert.equal(a.tokens_reserved, 0);
  assert.equal(await openReservations(stack.handle), 0);
  assert.deepEqual((await auditLedger(stack.handle)).problems, []);
  return events;
}
