import { CONFIG_VARIABLES, createConfig, readEnv } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

/** `arb config check`: 0 when valid, 2 with every problem named. Never prints a secret. */
export function runConfigCheck(opts: { json?: boolean }): number {
  const env = readEnv();
  try {
    const config = createConfig(env);
    const notes: string[] = [];
    if (!config.token) notes.push('TOKEN is not set: the daemon will run proxy-only (no Telegram bot)');
    if (!config.openrouterApiKey) notes.push('OPENROUTER_API_KEY is not set: upstream calls will be refused by OpenRouter');
    if (config.token && config.adminIds.length === 0) notes.push('ADMIN_ID_LIST is empty: nobody can use the admin menu');
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ok: true, problems: [], notes, database: config.databaseUrl ? 'postgres' : 'sqlite', mode: config.webhookUrl ? 'webhook' : 'polling' }, null, 2)}\n`);
    } else {
      process.stdout.write(`configuration OK (${CONFIG_VARIABLES.length} variables checked)\n`);
      for (const n of notes) process.stdout.write(`note: ${n}\n`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: false, problems: e.problems, notes: [] }, null, 2)}\n`);
    else process.stderr.write(`${e.message}\n`);
    return 2;
  }
}
