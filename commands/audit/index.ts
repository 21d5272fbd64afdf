import type { Command } from 'commander';
import { withContext } from '../run.js';

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('reconcile the ledger and token usage; exit 1 on any discrepancy')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { auditLedger } = await import('../../src/ledger/audit.js');
        const { pendingSettlesLocation } = await import('../../src/metering/pending-settles.js');
        const report = await auditLedger(await ctx.db(), { pendingSettlesAt: pendingSettlesLocation(ctx.config) });
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else if (report.ok) {
          const c = report.checked;
          ctx.stdout.write(`audit OK: ${c.users} users, ${c.transactions} ledger rows, ${c.allocations} keys, ${c.usage_events} usage events, ${c.reservations} open holds\n`);
        } else {
          ctx.stdout.write(`audit FAILED: ${report.problems.length} discrepancies\n`);
          for (const p of report.problems) ctx.stdout.write(`  - ${p}\n`);
        }
        return report.ok ? 0 : 1;
      }),
    );
}
