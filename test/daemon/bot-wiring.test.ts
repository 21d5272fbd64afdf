/**
 * The daemon with TOKEN set: the shop bot runs inside it (long polling, or webhook through the daemon's
 * HTTP server), /health reports it, the alert rules reach the admins (once per firing rule, not every
 * tick), and shutdown stops the bot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { until } from '../support/wait.js';
import { startStack } from './harness.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('long polling: the bot answers inside the daemon; alerts reach the admins once; stop ends polling', async (t) => {
  const tg = await startFakeTelegram();
  t.after(() => tg.close());
  let ticks = 0;
  const printed: string[] = [];
  const stack = await startStack(t, {
    env: { TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, ADMIN_ID_LIST: '777' },
    daemon: {
      bot: undefined,
      alertsIntervalMs: 30,
      alerts: async () => {
        ticks++;
        return [{ rule: 'openrouter_credit', message: 'OpenRouter credit $4.20 — below $10.00; top up at openrouter.ai' }];
      },
      print: (l) => printed.push(l),
    },
  });
  assert.match(printed.join('\n'), /with the Telegram bot \(long polling\)/);
  const health = (await (await fetch(`${stack.daemon.url}/health`)).json()) as { checks: Record<string, string> };
  assert.equal(health.checks.telegram, 'ok');

  const user = tg.user(31337, { first_name: 'Ann' });
  await tg.send(user, '/start');
  assert.ok(tg.botMessages(31337).length >= 1, 'the bot answered /start');

  await until('three runs of the alert rules', () => ticks >= 3);
  const alerts = tg.callsOf('sendMessage').filter((p) => p.chat_id === 777);
  assert.equal(alerts.length, 1, 'a firing rule is sent once, not every 5 minutes');
  assert.match(String(alerts[0].text), /OpenRouter credit \$4\.20/);

  // a polling bot always holds a getUpdates open; stop() closes it and starts no other
  await until('a long poll held open while polling', () => tg.waitingPolls === 1);
  await stack.daemon.stop();
  await until('the bot closed its long poll', () => tg.waitingPolls === 0);
  const polls = tg.callsOf('getUpdates').length;
  await new Promise((r) => setTimeout(r, 100)); // a polling loop still running would be holding a new poll by now
  assert.equal(tg.waitingPolls, 0, 'no new long poll after stop');
  assert.equal(tg.callsOf('getUpdates').length, polls, 'polling stopped');
});

test('webhook mode: Telegram POSTs to /telegram/webhook on the daemon, with the secret checked', async (t) => {
  const tg = await startFakeTelegram();
  t.after(() => tg.close());
  const port = await freePort();
  const stack = await startStack(t, {
    env: { TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, WEBHOOK_URL: `http://127.0.0.1:${port}`, WEBHOOK_SECRET_TOKEN: 'secret_abc' },
    daemon: { bot: undefined, port },
  });
  assert.equal(tg.webhook?.url, `http://127.0.0.1:${port}/telegram/webhook`);
  const user = tg.user(4242);
  const r = await tg.send(user, '/start');
  assert.equal(r.status, 200);
  assert.ok(tg.botMessages(4242).length >= 1);
  const forged = await tg.deliver(tg.messageUpdate(user, '/start'), { secretToken: 'wrong' });
  assert.equal(forged.status, 401);
  // the proxy is on the same server
  const models = await fetch(`${stack.baseURL}/models`);
  assert.equal(models.status, 401);
});
