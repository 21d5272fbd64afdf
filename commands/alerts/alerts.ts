/** `arb alerts`: evaluates the SPEC §9 rules once; exit 1 when any fires. */
import { resolve } from 'node:path';
import { evaluateAlerts, type AlertResult } from '../../src/alerts/alerts.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';

export async function runAlerts(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  const handle = await ctx.db();
  let client: { creditRemainingMicros(): Promise<number>; close(): Promise<void> } | undefined;
  if (ctx.config.openrouterApiKey) {
    const { openRouterClientFromConfig } = await import('../../src/catalog/openrouter.js');
    client = openRouterClientFromConfig(ctx.config, { connectTimeoutMs: 2_000, headersTimeoutMs: 3_000, bodyTimeoutMs: 3_000 });
  }
  let results: AlertResult[];
  try {
    results = await evaluateAlerts({ handle, logDir: resolve(ctx.config.logDir), creditRemainingMicros: client ? () => client!.creditRemainingMicros() : undefined });
  } finally {
    await client?.close();
  }
  const firing = results.filter((r) => !r.ok);
  if (opts.json) {
    writeJson(ctx.stdout, { ok: firing.length === 0, firing: firing.map((r) => r.rule), alerts: results.map((r) => ({ ...r, skipped: r.skipped ?? false })) });
  } else {
    ctx.stdout.write(
      `${renderTable(
        ['rule', 'state', 'details'],
        results.map((r) => [r.rule, r.ok ? (r.skipped ? 'skipped' : 'ok') : 'ALERT', r.message]),
      )}\n`,
    );
    ctx.stdout.write(firing.length === 0 ? 'no alerts\n' : `${firing.length} alert(s) firing: ${firing.map((r) => r.rule).join(', ')}\n`);
  }
  return firing.length === 0 ? 0 : 1;
}
