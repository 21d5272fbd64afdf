/** `arb alerts`: evaluates the SPEC §9 rules once (exit 1 when any fires), or with --watch until Ctrl-C. */
import { resolve } from 'node:path';
import { evaluateAlerts, type AlertResult } from '../../src/alerts/alerts.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { startLiveScreen } from '../ui/screens.js';
import { renderTable } from '../ui/table.js';
import { paint } from '../ui/terminal.js';
import { checkWatchable, parseIntervalOption, repeatUntilStopped, watchFooter, type WatchOptions } from '../ui/watch.js';

export async function runAlerts(ctx: CommandContext, opts: WatchOptions): Promise<number> {
  const intervalMs = parseIntervalOption(opts.interval);
  checkWatchable(ctx, opts, 'arb alerts');
  const handle = await ctx.db();
  const evaluate = async (): Promise<AlertResult[]> => {
    let client: { creditRemainingMicros(): Promise<number>; close(): Promise<void> } | undefined;
    if (ctx.config.openrouterApiKey) {
      const { openRouterClientFromConfig } = await import('../../src/catalog/openrouter.js');
      client = openRouterClientFromConfig(ctx.config, { connectTimeoutMs: 2_000, headersTimeoutMs: 3_000, bodyTimeoutMs: 3_000 });
    }
    try {
      return await evaluateAlerts({ handle, logDir: resolve(ctx.config.logDir), creditRemainingMicros: client ? () => client!.creditRemainingMicros() : undefined });
    } finally {
      await client?.close();
    }
  };
  const toJson = (results: AlertResult[]) => {
    const firing = results.filter((r) => !r.ok);
    return { ok: firing.length === 0, firing: firing.map((r) => r.rule), alerts: results.map((r) => ({ ...r, skipped: r.skipped ?? false })) };
  };

  if (opts.watch) {
    if (opts.json) {
      await repeatUntilStopped(intervalMs, async () => {
        ctx.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...toJson(await evaluate()) })}\n`);
      });
      return 0;
    }
    const screen = await startLiveScreen(ctx, async () => (await import('../screens/AlertsScreen.js')).AlertsScreen);
    try {
      await repeatUntilStopped(intervalMs, async () => screen.update({ results: await evaluate(), footer: watchFooter(intervalMs) }));
    } finally {
      await screen.close();
    }
    return 0;
  }

  const results = await evaluate();
  const firing = results.filter((r) => !r.ok);
  if (opts.json) {
    writeJson(ctx.stdout, toJson(results));
  } else {
    const style = paint();
    ctx.stdout.write(
      `${renderTable(
        ['rule', 'state', 'details'],
        results.map((r) => [r.rule, r.ok ? (r.skipped ? 'skipped' : style.green('ok')) : style.red('ALERT'), r.message]),
      )}\n`,
    );
    ctx.stdout.write(firing.length === 0 ? 'no alerts\n' : `${firing.length} alert(s) firing: ${firing.map((r) => r.rule).join(', ')}\n`);
  }
  return firing.length === 0 ? 0 : 1;
}
