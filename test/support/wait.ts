/**
 * Waiting in tests: for a positive signal, always with a deadline. A test that has to show that something
 * does NOT happen first waits (with `until`) for the signal that the code path in question ran, then checks
 * the absence — never a bare fixed sleep followed by "nothing changed" (which passes when the feature is
 * broken).
 */

/** Resolves once `check` is true; throws naming `what` when `ms` pass first. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
