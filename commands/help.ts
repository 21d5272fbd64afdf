/**
 * The help registry: which group each top-level command is listed under in `arb --help`, and the
 * Examples section of every command's `--help`. One table, applied to the commander tree by
 * `applyHelpRegistry` after every group has registered itself, so a command file needs no help code.
 * A command added without an entry here fails test/commands/help.test.ts.
 */
import type { Command } from 'commander';

export const HELP_GROUPS = ['Sales', 'Catalog', 'Customers', 'Logs', 'Operations'] as const;
export type HelpGroup = (typeof HELP_GROUPS)[number];

/** Top-level command → group in `arb --help`. */
export const COMMAND_GROUPS: Readonly<Record<string, HelpGroup>> = {
  stats: 'Sales',
  audit: 'Sales',
  codes: 'Sales',
  package: 'Catalog',
  models: 'Catalog',
  category: 'Catalog',
  user: 'Customers',
  keys: 'Customers',
  support: 'Customers',
  logs: 'Logs',
  alerts: 'Operations',
  health: 'Operations',
  backup: 'Operations',
  restore: 'Operations',
  cleanup: 'Operations',
  config: 'Operations',
  db: 'Operations',
  daemon: 'Operations',
  demo: 'Operations',
  completion: 'Operations',
};

/** `[command line, what it does]` */
export type Example = readonly [string, string];

const logsExamples = (query: string, extra: Example[] = []): Example[] => [
  [`arb logs ${query} --since 24h`, 'the last day'],
  [`arb logs ${query} --limit 200 --json | jq .entries[0]`, 'for scripts'],
  ...extra,
];

/** Command path (as typed after `arb`) → examples. Entries for commands not registered are ignored. */
export const COMMAND_EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  '': [
    ['arb stats --since 7d', 'how the week went'],
    ['arb package create gpt-4 100000 "GPT-4 Premium Access - 100k tokens"', 'something to sell'],
    ['arb logs errors --since 24h', 'what went wrong today'],
    ['arb keys list --output csv', 'any list, for a spreadsheet'],
    ["echo 'source <(arb completion bash)' >> ~/.bashrc", 'tab completion in bash'],
  ],
  stats: [
    ['arb stats', 'all time, as a dashboard on a terminal'],
    ['arb stats --since 30d', 'the last 30 days, every day charted'],
    ['arb stats --since 7d --watch', 'refresh in place every 5 s'],
    ['arb stats --since 24h --json | jq .revenue_usd', 'for scripts'],
  ],
  audit: [
    ['arb audit', 'balances = ledger, tokens used = usage events'],
    ['arb audit --json || echo "ledger problem"', 'in a cron job (exit 1 on a discrepancy)'],
  ],
  codes: [
    ['arb codes create 10 --usd 5', 'ten $5 gift codes'],
    ['arb codes list', 'codes and who redeemed them'],
  ],
  'codes create': [
    ['arb codes create 10 --usd 5 --expires 30d', 'ten $5 codes valid 30 days'],
    ['arb codes create 1 --package 3', 'one code for package 3'],
  ],
  'codes list': [
    ['arb codes list', 'every code with its state'],
    ['arb codes list --output csv > codes.csv', 'for a spreadsheet'],
  ],
  package: [
    ['arb package create gpt-4 100000 "GPT-4 Premium Access - 100k tokens"', 'priced by the markup rule'],
    ['arb package list --all', 'also packages off sale or on hold'],
    ['arb package import packages.json --dry-run', 'what an import would do'],
  ],
  'package create': [
    ['arb package create gpt-4 100000 "GPT-4 Premium Access - 100k tokens"', 'priced by the markup rule'],
    ['arb package create claude-3-haiku 1000000 "Claude Haiku 1M" --price 1.50', 'an explicit price (not below the floor)'],
    ['arb package create gpt-4 100000 "GPT-4 100k" --validity-days 60 --category 2', 'in a category, keys valid 60 days'],
  ],
  'package import': [
    ['arb package import packages.json --dry-run', 'created / updated / unchanged, nothing stored'],
    ['arb package import packages.json', 'create what is new; existing packages are left unchanged'],
    ['arb package import packages.json --upsert', 'also update existing packages (same model, tokens, description)'],
    ['arb package import packages.json --all', 'list every item, not only the first rows'],
  ],
  'package list': [
    ['arb package list', 'packages on sale'],
    ['arb package list --all --output csv > packages.csv', 'every package, for a spreadsheet'],
  ],
  'package enable': [['arb package enable 3', 'put package 3 on sale (lifts a sync hold)']],
  'package disable': [['arb package disable 3', 'take package 3 off sale']],
  'package reprice': [
    ['arb package reprice 3', "recompute at the model's current rates"],
    ['arb package reprice 3 --price 4.50', 'set an explicit price'],
    ['arb package reprice 3 --formula', 'let a fixed price follow the formula again'],
    ['arb package reprice --all', 'every package priced by the formula'],
  ],
  models: [
    ['arb models gpt-4', 'upstream rates next to our prices'],
    ['arb models --sync', 'refresh from OpenRouter; shows only what changed'],
    ['arb models --output csv > market.csv', 'the whole market table'],
  ],
  category: [
    ['arb category create "Chat models"', 'a new category'],
    ['arb category list', 'categories with their packages'],
  ],
  'category create': [['arb category create "Chat models"', 'a new category']],
  'category list': [['arb category list', 'every category']],
  'category rename': [['arb category rename 2 "Coding models"', 'rename category 2']],
  'category delete': [['arb category delete 2', 'refused while packages use it']],
  user: [
    ['arb user list', 'customers with balances'],
    ['arb user credit 123456789 10', 'credit $10 paid outside Telegram'],
  ],
  'user credit': [
    ['arb user credit 123456789 10 --note "bank transfer"', 'credit $10'],
    ['arb user credit 123456789 -2.50 --note "correction"', 'correct a balance downwards'],
  ],
  'user list': [
    ['arb user list', 'customers with balance, keys and spending'],
    ['arb user list --output csv > customers.csv', 'for a spreadsheet'],
  ],
  'user refund': [['arb user refund <telegram_payment_charge_id>', 'refund a Stars payment']],
  keys: [
    ['arb keys list --user 123456789', "one customer's keys"],
    ['arb keys revoke sk-arb-AbCd', 'revoke a key (asks first)'],
  ],
  'keys list': [
    ['arb keys list', 'every key, masked'],
    ['arb keys list --user 123456789', "one customer's keys"],
    ['arb keys list --output json | jq ".keys[] | select(.status == \\"active\\")"', 'for scripts'],
  ],
  'keys revoke': [
    ['arb keys revoke sk-arb-AbCd', 'asks before revoking on a terminal'],
    ['arb keys revoke sk-arb-AbCd --yes', 'in a script (no question)'],
  ],
  'keys issue': [
    ['arb keys issue 123456789 3', 'sell package 3 from the balance'],
    ['arb keys issue 123456789 3 --free', 'grant it (no revenue)'],
  ],
  'keys refund': [['arb keys refund sk-arb-AbCd', 'refund the unused part of a key']],
  'keys replace': [['arb keys replace sk-arb-AbCd', 'a new key for a leaked one']],
  support: [
    ['arb support list', 'open tickets'],
    ['arb support show 12', 'one ticket'],
  ],
  'support list': [['arb support list', 'open tickets']],
  'support show': [['arb support show 12', 'ticket 12 with its messages']],
  'support close': [['arb support close 12', 'close ticket 12']],
  logs: logsExamples('errors', [['arb logs tail --follow', 'new lines as they are written']]),
  'logs errors': logsExamples('errors', [['arb logs errors --request-id req_0193…', 'one request']]),
  'logs transactions': logsExamples('transactions'),
  'logs revenue': logsExamples('revenue', [['arb logs revenue --since 30d', 'revenue per day for 30 days']]),
  'logs high-value': logsExamples('high-value', [['arb logs high-value --min-amount 50', 'sales of $50 or more']]),
  'logs api-failures': logsExamples('api-failures', [['arb logs api-failures --key sk-arb-AbCd', "one key's failures"]]),
  'logs slow': logsExamples('slow'),
  'logs security': logsExamples('security'),
  'logs all': [
    ['arb logs --request-id req_0193…', 'every line of one request (the x-request-id a customer reports)'],
    ['arb logs --key sk-arb-AbCd…', 'every line of one key'],
  ],
  'logs tail': [
    ['arb logs tail', 'the last 50 lines'],
    ['arb logs tail --follow', 'keep printing new lines until Ctrl-C'],
    ['arb logs tail --follow --json | jq -c .', 'one JSON object per line'],
  ],
  alerts: [
    ['arb alerts', 'evaluate the rules now (exit 1 when one fires)'],
    ['arb alerts --watch', 'refresh in place every 5 s'],
  ],
  health: [
    ['arb health', 'the daemon on 127.0.0.1:PORT'],
    ['arb health --url https://shop.example.com', 'a daemon on another host'],
    ['arb health --json', 'always one JSON document; exit 1 when down'],
  ],
  backup: [
    ['arb backup', 'a verified copy into BACKUP_DIR'],
    ['arb backup --keep 14', 'and keep only the newest 14'],
  ],
  restore: [
    ['arb restore latest', 'asks before replacing the database'],
    ['arb restore backup/arbitrage_20260101_120000.db --yes', 'a given backup, no question'],
  ],
  cleanup: [
    ['arb cleanup --dry-run', 'what would be expired and deleted'],
    ['arb cleanup --yes', 'in a cron job'],
  ],
  config: [
    ['arb config show', 'the effective configuration and where each value comes from'],
    ['arb config check', 'validate .env'],
  ],
  'config check': [
    ['arb config check', 'every problem named'],
    ['arb config check --json', 'for scripts'],
  ],
  'config show': [
    ['arb config show', 'values (secrets masked) with their source'],
    ['arb config show --json', 'for scripts'],
  ],
  db: [['arb db migrate', 'apply pending migrations']],
  'db migrate': [['arb db migrate', 'idempotent; safe to run on every deploy']],
  daemon: [
    ['arb daemon', 'proxy, /health, /metrics and the bot'],
    ['arb daemon --port 8080', 'on another port'],
  ],
  demo: [
    ['arb demo', 'the whole loop with no accounts'],
    ['arb demo --keep demo', 'keep the database and logs to explore with arb stats'],
  ],
  completion: [
    ['arb completion bash > /etc/bash_completion.d/arb', 'bash'],
    ['arb completion zsh > "${fpath[1]}/_arb"', 'zsh'],
    ['arb completion fish > ~/.config/fish/completions/arb.fish', 'fish'],
  ],
};

/** `keys revoke` for a subcommand of `keys`; '' for the program. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command below `root`, depth first. */
export function walkCommands(root: Command): Command[] {
  return root.commands.flatMap((c) => [c, ...walkCommands(c)]);
}

export function formatExamples(examples: readonly Example[]): string {
  return `\nExamples:\n${examples.map(([line, what]) => `  # ${what}\n  $ ${line}`).join('\n\n')}\n`;
}

/** Puts top-level commands in their help groups and adds the Examples section to every command. */
export function applyHelpRegistry(program: Command): void {
  for (const cmd of program.commands) cmd.helpGroup(`${COMMAND_GROUPS[cmd.name()] ?? 'Other'}:`);
  // commander lists groups in the order their first command was added; list them in HELP_GROUPS order
  const order = (c: Command) => {
    const i = HELP_GROUPS.indexOf(COMMAND_GROUPS[c.name()] as HelpGroup);
    return i === -1 ? HELP_GROUPS.length : i;
  };
  const sorted = [...program.commands].sort((a, b) => order(a) - order(b));
  (program.commands as Command[]).splice(0, program.commands.length, ...sorted);
  program.addHelpCommand(program.createCommand('help').helpOption(false).argument('[command]').description('display help for a command').helpGroup('Operations:'));
  for (const cmd of [program, ...walkCommands(program)]) {
    const examples = COMMAND_EXAMPLES[commandPath(cmd)];
    if (examples?.length) cmd.addHelpText('after', formatExamples(examples));
  }
}
