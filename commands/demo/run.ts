/**
 * `arb demo` (= `npm run demo`): the whole loop on this machine with no accounts. Starts the OpenRouter
 * simulator and the daemon on 127.0.0.1 over a demo database, syncs the catalog from the simulator,
 * creates a package, credits a demo customer and buys the package through the ledger (exactly what the
 * bot does), then prints the key, the base URL and a curl line that works as printed. Ctrl-C stops it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConfig, readEnv } from '../../src/config.js';
import { createLogger, closeLogger } from '../../src/logger.js';
import { formatUsd } from '../../src/money.js';
import { parsePortOption } from '../daemon/run.js';
import { claudeCodeEnv, shellExports } from '../../src/client-settings.js';

const DEMO_TELEGRAM_ID = 100_000_001;
export const DEMO_PORT = 8000;
/** The demo's second package, for Claude Code and the Anthropic SDK. */
export const DEMO_CLAUDE_MODEL = 'anthropic/claude-sonnet-4.6';

export interface DemoInfo {
  key: string;
  base_url: string;
  model: string;
  tokens: number;
  price_usd: number;
  curl: string;
  curl_stream: string;
  curl_key: string;
  database: string;
  simulator_url: string;
  /** the Claude package's key and the Claude Code environment that uses it */
  claude_code: { key: string; model: string; env: Record<string, string> };
  /** with --keep: the line that opens the kept shop in another terminal */
  explore?: string;
}

/** `DB_NAME=… LOG_DIR=… arb stats`, quoted for sh where a path needs it. */
export function exploreLine(dbFile: string, logDir: string): string {
  const q = (p: string) => (/^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`);
  return `DB_NAME=${q(dbFile)} LOG_DIR=${q(logDir)} arb stats`;
}

/** The curl lines printed by the demo (single-quoted JSON: they work as printed in sh/bash/zsh). */
export function demoCurlLines(baseUrl: string, key: string, model: string): { curl: string; curl_stream: string; curl_key: string } {
  const body = (stream: boolean) => JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello! Who are you?' }], max_tokens: 30, ...(stream ? { stream: true } : {}) });
  const post = (stream: boolean) => `curl -sS${stream ? 'N' : ''} ${baseUrl}/chat/completions -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '${body(stream)}'`;
  return { curl: post(false), curl_stream: post(true), curl_key: `curl -sS ${baseUrl}/key -H 'Authorization: Bearer ${key}'` };
}

export async function runDemo(opts: { port?: string; db?: string; keep?: string; json?: boolean }): Promise<void> {
  const requestedPort = parsePortOption(opts.port, DEMO_PORT);
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'arb-demo-'));
  const keep = opts.keep ? resolve(opts.keep) : undefined;
  if (keep) mkdirSync(keep, { recursive: true });
  const dbFile = opts.db ? resolve(opts.db) : keep ? join(keep, 'arbitrage.db') : join(tmp, 'demo.db');
  const logDir = keep ? join(keep, 'logs') : join(tmp, 'logs');

  const { startSimulator } = await import('../../src/catalog/simulator.js');
  const { openAndMigrate } = await import('../../src/db/dialect.js');
  const { openRouterClientFromConfig } = await import('../../src/catalog/openrouter.js');
  const { syncModels } = await import('../../src/catalog/sync.js');
  const { createPackage } = await import('../../src/packages/packages.js');
  const { creditUser, purchasePackage } = await import('../../src/ledger/ledger.js');
  const { startDaemon, installSignalHandlers } = await import('../../daemon/main.js');

  const sim = await startSimulator({ chunkDelayMs: 25 });
  // The operator's .env stays out of the demo's way: no bot, no PostgreSQL/Redis, the simulator upstream.
  const config = createConfig({
    ...readEnv(),
    TOKEN: '',
    WEBHOOK_URL: '',
    WEBHOOK_SECRET_TOKEN: '',
    DATABASE_URL: '',
    REDIS_HOST: '',
    OPENROUTER_BASE_URL: sim.baseUrl,
    OPENROUTER_BACKUP_BASE_URL: '',
    OPENROUTER_API_KEY: '',
    DB_NAME: dbFile,
    LOG_DIR: logDir,
  });
  const logger = createLogger({ logDir: config.logDir, level: config.logLevel, process: 'daemon' });
  const handle = await openAndMigrate({ dbName: dbFile });
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    const catalog = openRouterClientFromConfig(config);
    const report = await syncModels(handle, catalog, { config, logger });
    await catalog.close();
    const { package: pkg } = await createPackage({ handle, config, logger }, { model: 'gpt-4', tokens: 100_000, description: 'Demo: GPT-4, 100k tokens' });
    await creditUser({ handle, logger }, { telegramId: DEMO_TELEGRAM_ID, amountMicros: pkg.priceMicros, type: 'topup', reference: `demo-topup-${pkg.id}`, note: 'demo top-up' });
    const bought = await purchasePackage(
      { handle, logger, config },
      { telegramId: DEMO_TELEGRAM_ID, packageId: pkg.id, reference: `demo-purchase-${pkg.id}`, profile: { username: 'demo', firstName: 'Demo' } },
    );
    const key = bought.apiKey;
    if (!key) throw new Error('the demo package was already bought in this database; run `arb demo` without --db, or with a new file');
    const { package: claudePkg } = await createPackage({ handle, config, logger }, { model: DEMO_CLAUDE_MODEL, tokens: 200_000, description: 'Demo: Claude Sonnet, 200k tokens (Claude Code)' });
    await creditUser({ handle, logger }, { telegramId: DEMO_TELEGRAM_ID, amountMicros: claudePkg.priceMicros, type: 'topup', reference: `demo-topup-${claudePkg.id}`, note: 'demo top-up' });
    const claudeBought = await purchasePackage(
      { handle, logger, config },
      { telegramId: DEMO_TELEGRAM_ID, packageId: claudePkg.id, reference: `demo-purchase-${claudePkg.id}`, profile: { username: 'demo', firstName: 'Demo' } },
    );
    const claudeKey = claudeBought.apiKey!;

    const start = (port: number) => startDaemon({ config, handle, logger, host: '127.0.0.1', port, bot: false });
    const starting = start(requestedPort).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || opts.port !== undefined) throw e;
      return start(0); // 8000 is taken: any free port
    });
    // Ctrl-C is handled from the daemon's start on, so before anything is printed (a reader may signal the
    // moment it reads); one caught while the daemon starts stops it as soon as it is up
    const stopped = new Promise<void>((resolveStop) => installSignalHandlers(starting, resolveStop, (l) => process.stderr.write(`${l}\n`)));
    daemon = await starting;
    const baseUrl = `${daemon.url}/v1`;
    const lines = demoCurlLines(baseUrl, key, 'gpt-4');
    const info: DemoInfo = {
      key,
      base_url: baseUrl,
      model: pkg.model,
      tokens: pkg.tokens,
      price_usd: pkg.priceMicros / 1e6,
      ...lines,
      database: dbFile,
      simulator_url: sim.baseUrl,
      claude_code: { key: claudeKey, model: claudePkg.model, env: claudeCodeEnv(daemon.url, claudeKey, claudePkg.model) },
      ...(keep ? { explore: exploreLine(dbFile, logDir) } : {}),
    };
    if (opts.json) {
      out(JSON.stringify(info));
    } else {
      out('arb demo — the whole loop on this machine, no accounts needed');
      out(`  upstream   OpenRouter simulator at ${sim.baseUrl} (${report.total} models synced into the catalog)`);
      out(`  package    #${pkg.id} ${pkg.model}, ${pkg.tokens.toLocaleString('en-US')} tokens, ${formatUsd(pkg.priceMicros)} (a completion token counts 2)`);
      out(`  package    #${claudePkg.id} ${claudePkg.model}, ${claudePkg.tokens.toLocaleString('en-US')} tokens, ${formatUsd(claudePkg.priceMicros)} (for Claude Code, below)`);
      out(`  customer   Telegram id ${DEMO_TELEGRAM_ID}: topped up ${formatUsd(pkg.priceMicros + claudePkg.priceMicros)} and bought both packages`);
      out(`  database   ${dbFile}${opts.db || keep ? '' : ' (temporary)'}`);
      out();
      out(`API key:   ${key}`);
      out(`Base URL:  ${baseUrl}`);
      out();
      out('Try it:');
      out(lines.curl);
      out();
      out('Stream it:');
      out(lines.curl_stream);
      out();
      out('What is left on the key:');
      out(lines.curl_key);
      out();
      out('Any OpenAI client works too: base URL above, the key as the API key, model "gpt-4".');
      out();
      out(`Claude Code (a second key, for package #${claudePkg.id} ${claudePkg.model}, ${claudePkg.tokens.toLocaleString('en-US')} tokens): paste into a shell, then run claude`);
      for (const line of shellExports(info.claude_code.env)) out(line);
      if (info.explore) {
        out();
        out(`Kept in ${keep} after the demo stops. Explore it in another terminal:`);
        out(`  ${info.explore}`);
      }
      out('Press Ctrl-C to stop.');
    }
    await stopped;
  } finally {
    await daemon?.stop();
    await sim.close();
    await handle.close();
    await closeLogger(logger);
    rmSync(tmp, { recursive: true, force: true });
  }
}
