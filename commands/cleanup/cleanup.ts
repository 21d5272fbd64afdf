/** `arb cleanup`: plan, (confirm log deletion), apply; progress screen on a TTY. */
import { resolve } from 'node:path';
import { applyCleanup, planCleanup, type CleanupPlan } from '../../src/cleanup/cleanup.js';
import { logBusinessEvent, withPerformanceLog } from '../../src/logger.js';
import type { CommandContext } from '../context.js';
import { formatCount } from '../ui/format.js';
import { writeJson } from '../ui/json.js';
import { parseIntegerOption } from '../ui/options.js';
import { confirm, startProgress } from '../ui/screens.js';
import { renderTable } from '../ui/table.js';
import type { CleanupCommandOptions } from './index.js';

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

export async function runCleanup(ctx: CommandContext, opts: CleanupCommandOptions): Promise<number> {
  const logRetentionDays =
    opts.logRetentionDays !== undefined
      ? parseIntegerOption(opts.logRetentionDays, '--log-retention-days', 1, 36_500, '--log-retention-days 30')
      : ctx.config.logRetentionDays > 0
        ? ctx.config.logRetentionDays
        : null;
  const handle = await ctx.db();
  const plan = await planCleanup(handle, { logDir: resolve(ctx.config.logDir), logRetentionDays });
  if (opts.dryRun || (plan.keys.length === 0 && plan.logs.length === 0)) {
    report(ctx, opts, plan, null);
    return 0;
  }
  if (plan.logs.length > 0) {
    const ok = await confirm(ctx, {
      yes: opts.yes,
      action: `arb cleanup (deleting ${plan.logs.length} rotated log file(s) older than ${logRetentionDays} days)`,
      question: `Delete ${plan.logs.length} log file(s) (${mb(plan.logBytes)}) and expire ${plan.keys.length} key(s)?`,
      details: plan.logs.slice(0, 10).map((f) => `  ${f.name}  ${mb(f.bytes)}  last written ${f.mtime.toISOString().slice(0, 10)}`),
    });
    if (!ok) {
      ctx.stderr.write('cleanup cancelled; nothing was changed\n');
      return 1;
    }
  }
  const progress = await startProgress(ctx, 'arb cleanup', [`Expire ${plan.keys.length} key(s) past expiry`, `Delete ${plan.logs.length} old log file(s)`]);
  let result;
  try {
    result = await withPerformanceLog(ctx.logger(), 'cleanup', () =>
      applyCleanup(handle, plan, {
        onStep: (step, state, detail) => {
          const i = step === 'keys' ? 0 : 1;
          if (state === 'start') progress.start(i);
          else progress.finish(i, 'done', detail);
        },
      }),
    );
  } finally {
    await progress.close();
  }
  if (result.expiredKeys > 0) logBusinessEvent(ctx.logger(), { event_type: 'keys_expired', count: result.expiredKeys });
  report(ctx, opts, plan, result);
  return 0;
}

function report(ctx: CommandContext, opts: CleanupCommandOptions, plan: CleanupPlan, result: Awaited<ReturnType<typeof applyCleanup>> | null): void {
  const dryRun = result === null;
  if (opts.json) {
    writeJson(ctx.stdout, {
      dry_run: Boolean(opts.dryRun),
      expired_keys: {
        count: dryRun ? plan.keys.length : result.expiredKeys,
        keys: plan.keys.map((k) => ({ id: k.id, api_key: k.apiKey, telegram_id: k.telegramId, model: k.model, expires_at: k.expiresAt, tokens_unused: k.tokensUnused })),
      },
      logs: {
        log_dir: plan.logDir,
        retention_days: plan.logRetentionDays,
        cutoff: plan.logCutoff?.toISOString() ?? null,
        removed: (dryRun ? plan.logs : result.removedLogs).map((f) => ({ name: f.name, bytes: f.bytes, last_written: f.mtime.toISOString() })),
        freed_bytes: dryRun ? plan.logBytes : result.freedBytes,
      },
    });
    return;
  }
  const verb = opts.dryRun ? 'would expire' : 'expired';
  const keys = dryRun ? plan.keys.length : result.expiredKeys;
  ctx.stdout.write(`${verb} ${formatCount(keys)} key(s) past expiry (balances and the ledger are unchanged)\n`);
  if (plan.keys.length > 0) {
    ctx.stdout.write(
      `${renderTable(
        ['id', 'key', 'telegram_id', 'model', 'expired at (UTC)', 'unused tokens'],
        plan.keys.slice(0, 50).map((k) => [k.id, k.apiKey, k.telegramId, k.model, k.expiresAt, formatCount(k.tokensUnused)]),
        { align: ['right', 'left', 'right', 'left', 'left', 'right'] },
      )}\n`,
    );
    if (plan.keys.length > 50) ctx.stdout.write(`… and ${plan.keys.length - 50} more\n`);
  }
  const files = dryRun ? plan.logs : result.removedLogs;
  const bytes = dryRun ? plan.logBytes : result.freedBytes;
  if (plan.logRetentionDays === null) ctx.stdout.write('kept every rotated log file (LOG_RETENTION_DAYS=0; use --log-retention-days N to prune)\n');
  else
    ctx.stdout.write(
      `${opts.dryRun ? 'would delete' : 'deleted'} ${files.length} rotated log file(s) older than ${plan.logRetentionDays} days (${mb(bytes)})${files.length ? `: ${files.map((f) => f.name).join(', ')}` : ''}\n`,
    );
  if (opts.dryRun) ctx.stdout.write('dry run: nothing was changed\n');
}
