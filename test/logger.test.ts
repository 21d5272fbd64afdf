import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './support/db.js';
import {
  closeLogger,
  createLogger,
  listLogFiles,
  logApiCall,
  logArbitrage,
  logBusinessEvent,
  logPerformance,
  logSecurityEvent,
  logTransaction,
  pruneLogFiles,
  redactText,
  redactValue,
} from '../src/logger.js';
import { RotatingLogFile } from '../src/logs/rotating-file.js';

const TS_LEVEL = /^\{"timestamp":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z","level":"(DEBUG|INFO|WARN|ERROR|CRITICAL)"/;

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

function whichOrNull(cmd: string): string | null {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

test('each category helper writes one compact JSON line: timestamp first, then the upper-case level, then the flag and fields', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: join(dir, 'logs'), level: 'debug' });
  logBusinessEvent(logger, { event_type: 'token_package_sold', package_id: 3, user_id: 42, model: 'openai/gpt-4', tokens: 100_000, revenue: 3.75, profit: 0.75 });
  logTransaction(logger, { type: 'token_package_purchase', amount: 3.75, user_id: 42, package_id: 3 });
  logArbitrage(logger, { operation: 'package_priced', model: 'openai/gpt-4', tokens: 100_000, cost: 3, sell_price: 3.75, profit: 0.75, margin_percent: 25 });
  logApiCall(logger, { service: 'openrouter', endpoint: '/chat/completions', status: 200, success: true, latency_ms: 812, model: 'openai/gpt-4', request_id: 'req-1' });
  logApiCall(logger, { service: 'openrouter', endpoint: '/chat/completions', status: 502, success: false, latency_ms: 40 });
  logApiCall(logger, { service: 'openrouter', endpoint: '/chat/completions', status: 429, success: false, latency_ms: 5 });
  logPerformance(logger, 'model_sync', 2.5, { models: 310 });
  logSecurityEvent(logger, { event: 'admin_access_denied', reason: 'not in ADMIN_ID_LIST', telegram_user_id: 999 });
  logger.debug('debug line');
  logger.critical('database unreachable');
  await closeLogger(logger);

  const lines = readLines(join(dir, 'logs', 'arbitrage.log'));
  assert.equal(lines.length, 10);
  for (const l of lines) {
    assert.match(l, TS_LEVEL);
    assert.ok(!l.includes('\n') && !/": /.test(l), 'compact, one line');
  }
  const [biz, tx, arb, ok, failed5xx, failed4xx, perf, sec, debug, critical] = lines.map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(biz).slice(0, 3), ['timestamp', 'level', 'business_event']);
  assert.deepEqual(
    { ...biz, timestamp: undefined },
    {
      timestamp: undefined,
      level: 'INFO',
      business_event: true,
      event_type: 'token_package_sold',
      package_id: 3,
      user_id: 42,
      model: 'openai/gpt-4',
      tokens: 100_000,
      revenue: 3.75,
      profit: 0.75,
      message: 'token_package_sold',
    },
  );
  assert.equal(tx.transaction, true);
  assert.equal(tx.type, 'token_package_purchase');
  assert.equal(tx.amount, 3.75);
  assert.equal(tx.level, 'INFO');
  assert.equal(arb.arbitrage, true);
  assert.equal(arb.margin_percent, 25);
  assert.equal(arb.sell_price, 3.75);
  assert.equal(ok.api_call, true);
  assert.equal(ok.level, 'INFO');
  assert.equal(ok.request_id, 'req-1');
  assert.equal(failed5xx.level, 'ERROR');
  assert.equal(failed5xx.success, false);
  assert.equal(failed4xx.level, 'WARN');
  assert.equal(perf.performance, true);
  assert.equal(perf.execution_time, 2.5);
  assert.equal(perf.operation, 'model_sync');
  assert.equal(sec.security_event, true);
  assert.equal(sec.level, 'WARN');
  assert.equal(sec.telegram_user_id, 999);
  assert.equal(debug.level, 'DEBUG');
  assert.equal(critical.level, 'CRITICAL');
  assert.ok(Math.abs(Date.parse(tx.timestamp) - Date.now()) < 60_000);
});

test('LOG_LEVEL filters lines; child loggers keep timestamp and level first', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: dir, level: 'warn' });
  logger.info('not written');
  logger.warn('written');
  logger.child({ component: 'bot' }).error({ update_id: 7 }, 'handler failed');
  await closeLogger(logger);
  const lines = readLines(join(dir, 'arbitrage.log'));
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^\{"timestamp":"[^"]+","level":"ERROR","component":"bot","update_id":7,"message":"handler failed"\}$/);
});

test('secrets never reach the file: configured values and key/token shapes in messages, fields, nested objects, child bindings and error stacks', async (t) => {
  const dir = tempDir(t);
  const botToken = '7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
  const openrouterKey = 'sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab';
  const customerKey = 'sk-arb-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg';
  const webhookSecret = 'wh-secret-Zq8fP2mN4xR7';
  const keyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const otherTelegramToken = '123456:AAabcdefghijklmnopqrstuvwxyz0123456789';
  const logger = createLogger({ logDir: dir, secrets: [botToken, openrouterKey, webhookSecret, undefined] });

  logger.info(`calling ${openrouterKey} for ${customerKey} with ${webhookSecret}`);
  logger.info({ headers: { Authorization: `Bearer ${customerKey}`, 'x-telegram-bot-api-secret-token': webhookSecret }, api_key_hash: keyHash, key_hash: keyHash }, 'request');
  logger.info({ nested: { deeper: [{ note: `token ${otherTelegramToken}` }] }, api_key: 'sk-arb-AbCd…wxyz' }, 'nested');
  logger.warn('upstream said: Authorization: Bearer abcdef123456 was refused');
  logger.info('interpolated %s and %o', botToken, { k: customerKey });
  const err = new Error(`request with ${customerKey} failed`, { cause: new Error(`bot ${botToken} unauthorized`) });
  logger.error(err);
  logger.error({ err, user: 1 }, 'wrapped error');
  logger.child({ token: botToken, url: `https://api.telegram.org/bot${botToken}/getMe` }).info('child');
  logTransaction(logger, { type: 'topup', amount: 1, user_id: 1, reference: `ref ${customerKey}` });
  await closeLogger(logger);

  const raw = readFileSync(join(dir, 'arbitrage.log'), 'utf8');
  for (const secret of [botToken, openrouterKey, customerKey, webhookSecret, keyHash, otherTelegramToken, 'abcdef123456', 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw']) {
    assert.ok(!raw.includes(secret), `${secret.slice(0, 12)}… must not be in the log`);
  }
  const lines = raw
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 9, 'every line still written');
  assert.equal(lines[1].headers.Authorization, '[REDACTED]');
  assert.equal(lines[1].api_key_hash, '[REDACTED]');
  assert.equal(lines[2].api_key, 'sk-arb-AbCd…wxyz', 'masked display keys stay readable');
  assert.match(lines[5].err.stack, /Error: request with \[REDACTED\] failed/);
  assert.match(lines[5].err.cause.message, /bot \[REDACTED\] unauthorized/);
  assert.equal(lines[6].user, 1);
  assert.equal(lines[7].token, '[REDACTED]');
});

test('every line is exactly JSON.stringify of timestamp, level, bindings, fields and message, secrets scrubbed', async (t) => {
  const dir = tempDir(t);
  const customerKey = 'sk-arb-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg';
  const openrouterKey = 'sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab';
  const logger = createLogger({ logDir: dir, secrets: [openrouterKey], level: 'info' });
  const calls = [
    {
      service: 'proxy',
      endpoint: '/v1/chat/completions',
      status: 200,
      success: true,
      latency_ms: 3,
      model: 'openai/gpt-4',
      request_id: 'req_1',
      allocation_id: 1,
      stream: false,
      overhead_ms: 0.512,
      estimated: false,
    },
    {
      service: 'proxy',
      endpoint: '/v1/chat/completions',
      status: 403,
      success: false,
      latency_ms: 0,
      model: `gpt-4 ${customerKey}`,
      request_id: 'req_2',
      reason: 'model_not_allowed',
      allocation_id: undefined,
    },
    { service: 'proxy', endpoint: '/v1/chat/"quoted"\n', status: 502, success: false, latency_ms: Number.NaN, failure: `upstream said Bearer ${openrouterKey}`, api_key: customerKey, note: null },
    { service: 'proxy', endpoint: '/v1/key', status: 0, success: false, latency_ms: 1, extra: { nested: customerKey } },
  ];
  const levelOf = (call: (typeof calls)[number]) => (call.success ? 'info' : call.status >= 500 || call.status === 0 ? 'error' : 'warn');
  const expected: string[] = [];
  for (const call of calls) {
    logApiCall(logger, call);
    logger[levelOf(call)]({ api_call: true, ...call }, `${call.service} ${call.endpoint} ${call.status}`);
    const line = JSON.stringify({
      timestamp: 'T',
      level: levelOf(call).toUpperCase(),
      api_call: true,
      ...(redactValue(call, [openrouterKey]) as object),
      message: `${call.service} ${call.endpoint} ${call.status}`,
    });
    expected.push(line, line);
  }
  logApiCall(logger.child({ component: 'x' }), calls[0]);
  expected.push(JSON.stringify({ timestamp: 'T', level: 'INFO', component: 'x', api_call: true, ...calls[0], message: 'proxy /v1/chat/completions 200' }));
  logSecurityEvent(logger, { event: 'auth_failed', reason: 'unknown key', ip: '127.0.0.1', token: 123456, api_key: 'sk-arb-AbCd…wxyz' });
  expected.push(
    JSON.stringify({
      timestamp: 'T',
      level: 'WARN',
      security_event: true,
      event: 'auth_failed',
      reason: 'unknown key',
      ip: '127.0.0.1',
      token: '[REDACTED]',
      api_key: 'sk-arb-AbCd…wxyz',
      message: 'security auth_failed',
    }),
  );
  logTransaction(logger, { type: 'token_package_purchase', amount: 3.75, user_id: 7, reference: `%s 100% ${customerKey}` });
  expected.push(
    JSON.stringify({
      timestamp: 'T',
      level: 'INFO',
      transaction: true,
      type: 'token_package_purchase',
      amount: 3.75,
      user_id: 7,
      reference: '%s 100% [REDACTED]',
      message: 'transaction token_package_purchase',
    }),
  );
  logger.critical({ alert: true, rule: 'credit' }, 'OpenRouter credit low: %s');
  expected.push(JSON.stringify({ timestamp: 'T', level: 'CRITICAL', alert: true, rule: 'credit', message: 'OpenRouter credit low: %s' }));
  await closeLogger(logger);
  const raw = readFileSync(join(dir, 'arbitrage.log'), 'utf8');
  assert.ok(!raw.includes(customerKey) && !raw.includes(openrouterKey));
  const lines = raw
    .trim()
    .split('\n')
    .map((l) => l.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"'));
  assert.deepEqual(lines, expected, 'each line is the JSON.stringify of its object, in this key order');
  assert.equal(lines.length, 2 * calls.length + 4);
  for (let i = 0; i < calls.length; i++) assert.equal(lines[2 * i], lines[2 * i + 1], `call ${i}`);
  assert.match(lines[0], /^\{"timestamp":"T","level":"INFO","api_call":true,"service":"proxy"/);
  assert.match(lines[2], /"level":"WARN".*"model":"gpt-4 \[REDACTED\]"/);
  assert.match(lines[4], /"level":"ERROR".*"latency_ms":null.*"failure":"upstream said Bearer \[REDACTED\]","api_key":"\[REDACTED\]","note":null/);
  assert.match(lines[6], /"extra":\{"nested":"\[REDACTED\]"\}/);
  assert.match(lines[8], /^\{"timestamp":"T","level":"INFO","component":"x","api_call":true/);
  assert.match(lines[9], /"token":"\[REDACTED\]","api_key":"sk-arb-AbCd…wxyz"/);
});

test('redactText covers each pattern and leaves ordinary text alone', () => {
  assert.equal(redactText('key sk-arb-abcdefgh12345678 end'), 'key [REDACTED] end');
  assert.equal(redactText('sk-or-v1-abcdef0123456789'), '[REDACTED]');
  assert.equal(redactText('123456789:AAEabcdefghijklmnopqrstuvwxyz012345'), '[REDACTED]');
  assert.equal(redactText('Authorization: Bearer abc.def-123'), 'Authorization: Bearer [REDACTED]');
  assert.equal(redactText('{"authorization":"Basic dXNlcjpwYXNz"}'), '{"authorization":"Basic [REDACTED]"}');
  assert.equal(redactText('my secret value here', ['secret value']), 'my [REDACTED] here');
  const plain = 'sold 100,000 tokens of openai/gpt-4 to 42 for $3.75 (sk-arb-AbCd…wxyz)';
  assert.equal(redactText(plain), plain);
});

test('rotation keeps arbitrage.log as the live file, renames full files to arbitrage.log.YYYYMMDD-HHMMSS and loses no line', async (t) => {
  const dir = tempDir(t);
  const rotateBytes = 4000;
  const logger = createLogger({ logDir: dir, rotateBytes });
  for (let i = 0; i < 200; i++) logTransaction(logger, { type: 'topup', amount: i, user_id: i });
  await closeLogger(logger);

  const names = readdirSync(dir).sort();
  assert.ok(names.includes('arbitrage.log'));
  const rotated = names.filter((n) => n !== 'arbitrage.log');
  assert.ok(rotated.length >= 5, `several rotations happened: ${names.join(', ')}`);
  for (const n of rotated) {
    assert.match(n, /^arbitrage\.log\.\d{8}-\d{6}(_\d{2,})?$/);
    assert.ok(statSync(join(dir, n)).size <= rotateBytes, `${n} is at most rotateBytes`);
  }
  const files = listLogFiles(dir);
  assert.equal(files.length, names.length);
  assert.equal(files.at(-1)!.name, 'arbitrage.log');
  assert.ok(files.at(-1)!.live);
  assert.deepEqual(
    files.slice(0, -1).map((f) => f.name),
    rotated,
    'oldest first; name order is chronological',
  );
  const users = files.flatMap((f) => readLines(f.path).map((l) => JSON.parse(l).user_id));
  assert.deepEqual(
    users,
    Array.from({ length: 200 }, (_, i) => i),
    'every line once, in order across the files',
  );
});

test('two writers (daemon + CLI) share the file across rotations; a writer whose file was rotated away reopens the live name', (t) => {
  const dir = tempDir(t);
  const a = new RotatingLogFile({ dir, rotateBytes: 3000, checkIntervalMs: 0 });
  const b = new RotatingLogFile({ dir, rotateBytes: 3000, checkIntervalMs: 0, buffered: true, bufferBytes: 500 });
  for (let i = 0; i < 300; i++) (i % 2 ? a : b).write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', n: i, pad: 'x'.repeat(20) })}\n`);
  a.end();
  b.end();
  const seen = listLogFiles(dir).flatMap((f) => readLines(f.path).map((l) => JSON.parse(l).n as number));
  assert.deepEqual(
    [...seen].sort((x, y) => x - y),
    Array.from({ length: 300 }, (_, i) => i),
    'no line lost or duplicated',
  );
  assert.ok(listLogFiles(dir).length > 5, 'they rotated several times');
  for (const f of listLogFiles(dir)) assert.ok(f.bytes <= 3000 + 600, `${f.name} ${f.bytes} bytes stays near the limit`);

  // logrotate-style rename behind the writer's back
  const c = new RotatingLogFile({ dir, checkIntervalMs: 0 });
  c.write('{"n":"before"}\n');
  renameSync(join(dir, 'arbitrage.log'), join(dir, 'arbitrage.log.1'));
  c.write('{"n":"after"}\n');
  c.end();
  assert.equal(readFileSync(join(dir, 'arbitrage.log'), 'utf8'), '{"n":"after"}\n');
  assert.ok(
    listLogFiles(dir).some((f) => f.name === 'arbitrage.log.1'),
    'logrotate names are listed too',
  );
});

test('the daemon logger buffers but flushes on closeLogger and at process exit', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: dir, process: 'daemon' });
  logger.info('buffered');
  assert.equal(readFileSync(join(dir, 'arbitrage.log'), 'utf8'), '', 'not written synchronously');
  await closeLogger(logger);
  await closeLogger(logger);
  assert.equal(readLines(join(dir, 'arbitrage.log')).length, 1);

  const moduleUrl = new URL('../src/logger.ts', import.meta.url).href;
  const code = `import { createLogger } from ${JSON.stringify(moduleUrl)}; const l = createLogger({ logDir: ${JSON.stringify(dir)}, process: 'daemon' }); l.info('at exit'); process.exitCode = 0;`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(dir, 'arbitrage.log'), 'utf8'), /"message":"at exit"/);
});

test('logging never throws: an unwritable log directory, circular objects and throwing getters', async (t) => {
  const dir = tempDir(t);
  const notADir = join(dir, 'file');
  writeFileSync(notADir, 'x');
  const errors: string[] = [];
  const sink = new RotatingLogFile({ dir: join(notADir, 'logs'), onError: (e) => errors.push(e.message) });
  assert.doesNotThrow(() => sink.write('{"a":1}\n'));
  sink.end();
  assert.ok(errors.length >= 1, 'the failure is reported, not thrown');

  const logger = createLogger({ logDir: dir });
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;
  const evil = {
    get boom(): string {
      throw new Error('getter');
    },
  };
  assert.doesNotThrow(() => logger.info({ circular }, 'circular'));
  assert.doesNotThrow(() => logger.info(evil, 'evil'));
  await closeLogger(logger);
  const lines = readLines(join(dir, 'arbitrage.log')).map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[1].log_error, true);
});

test('pruneLogFiles removes rotated files older than the retention (dry run first) and never the live file', async (t) => {
  const dir = tempDir(t);
  const old = new Date(Date.now() - 40 * 86_400_000);
  for (const name of ['arbitrage-20240101-000000.log', 'arbitrage-20240102-000000.log', 'arbitrage.log']) {
    writeFileSync(join(dir, name), '{"a":1}\n');
    utimesSync(join(dir, name), old, old);
  }
  writeFileSync(join(dir, 'arbitrage-20991231-000000.log'), '{"b":2}\n');
  writeFileSync(join(dir, 'notes.txt'), 'not a log');
  utimesSync(join(dir, 'notes.txt'), old, old);

  const dry = pruneLogFiles(dir, 30, { dryRun: true });
  assert.deepEqual(
    dry.removed.map((f) => f.name),
    ['arbitrage-20240101-000000.log', 'arbitrage-20240102-000000.log'],
  );
  assert.equal(dry.freedBytes, 16);
  assert.ok(existsSync(join(dir, 'arbitrage-20240101-000000.log')), 'dry run deletes nothing');

  const real = pruneLogFiles(dir, 30);
  assert.equal(real.removed.length, 2);
  assert.deepEqual(readdirSync(dir).sort(), ['arbitrage-20991231-000000.log', 'arbitrage.log', 'notes.txt']);
  assert.deepEqual(pruneLogFiles(join(dir, 'missing'), 30).removed, []);
});

test("the operations manual's recipes run on a produced log: error count and transaction sum", async (t) => {
  const jq = whichOrNull('jq');
  if (!jq) {
    t.skip('jq is not installed (the manual recipe needs it; .ci/run installs it)');
    return;
  }
  const cwd = tempDir(t);
  const logger = createLogger({ logDir: join(cwd, 'logs') });
  const amounts = [3.75, 10, 0.01, 125.5, 7.333333, 42];
  let errors = 0;
  amounts.forEach((amount, i) => {
    logTransaction(logger, { type: i % 2 ? 'topup' : 'token_package_purchase', amount, user_id: 100 + i });
    logApiCall(logger, { service: 'openrouter', endpoint: '/chat/completions', status: i % 3 ? 200 : 502, success: i % 3 !== 0, latency_ms: 10 });
    if (i % 3 === 0) errors++;
  });
  logger.error(new Error('one more'));
  errors++;
  logger.critical('critical is not ERROR for the grep recipe');
  await closeLogger(logger);

  const count = spawnSync('bash', ['-c', `grep '"level":"ERROR"' logs/arbitrage.log | wc -l`], { cwd, encoding: 'utf8' });
  assert.equal(count.status, 0, count.stderr);
  assert.equal(Number(count.stdout.trim()), errors);

  const sum = spawnSync('bash', ['-c', `grep '"transaction":true' logs/arbitrage.log | jq -r '.amount' | awk '{sum+=$1} END {print sum}'`], { cwd, encoding: 'utf8' });
  assert.equal(sum.status, 0, sum.stderr);
  const expected = amounts.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(Number(sum.stdout.trim()) - expected) < 1e-3, `awk printed ${sum.stdout.trim()}, logged ${expected}`);
});
