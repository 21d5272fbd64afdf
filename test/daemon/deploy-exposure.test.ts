/**
 * What the daemon exposes: HOST decides the interface (127.0.0.1 unless told otherwise, and the banner
 * says which), METRICS_TOKEN guards /metrics, TRUST_PROXY decides whether X-Forwarded-For is believed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createConfig } from '../../src/config.js';
import { startStack } from './harness.js';

function get(url: string, opts: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: opts.headers, localAddress: opts.localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HOST: the default binds 127.0.0.1 only and the banner says so; HOST=0.0.0.0 binds every interface and says that', async (t) => {
  const printed: string[] = [];
  const local = await startStack(t, { daemon: { host: undefined, print: (l) => printed.push(l) } });
  assert.match(printed[0], new RegExp(`listening on http://127\\.0\\.0\\.1:${local.daemon.port} \\(this host only; HOST=0\\.0\\.0\\.0 opens it to others\\)`));
  assert.equal((await get(`http://127.0.0.1:${local.daemon.port}/health`)).status, 200);
  // another loopback address reaches a wildcard socket, never one bound to 127.0.0.1
  await assert.rejects(get(`http://127.0.0.2:${local.daemon.port}/health`), /ECONNREFUSED/);

  const everyPrinted: string[] = [];
  const every = await startStack(t, { env: { HOST: '0.0.0.0' }, daemon: { host: undefined, print: (l) => everyPrinted.push(l) } });
  assert.match(everyPrinted[0], new RegExp(`listening on http://0\\.0\\.0\\.0:${every.daemon.port} \\(every interface: reachable from other hosts\\)`));
  assert.match(everyPrinted[1], new RegExp(`OpenAI base URL: http://127\\.0\\.0\\.1:${every.daemon.port}/v1`));
  assert.equal((await get(`http://127.0.0.2:${every.daemon.port}/health`)).status, 200);
});

test('METRICS_TOKEN: /metrics needs the Bearer token (401 otherwise); open without it', async (t) => {
  const token = 'metrics-token-0123456789abcdef';
  const { daemon } = await startStack(t, { env: { METRICS_TOKEN: token } });
  const none = await get(`${daemon.url}/metrics`);
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="metrics"');
  assert.match(JSON.parse(none.body).error.message, /Authorization: Bearer <METRICS_TOKEN>/);
  assert.equal((await get(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
  assert.equal((await get(`${daemon.url}/metrics`, { headers: { authorization: token } })).status, 401);
  const ok = await get(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^# HELP /m);
  const open = await startStack(t);
  assert.equal((await get(`${open.daemon.url}/metrics`)).status, 200);
  assert.throws(() => createConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: expected at least 16 printable characters/);
});

test('TRUST_PROXY: X-Forwarded-For is ignored by default and believed (its last hop) behind a proxy', async (t) => {
  const forwarded = { 'x-forwarded-for': '203.0.113.66, 198.51.100.7', authorization: 'Bearer sk-arb-not-a-real-key-000000000000' };
  const direct = await startStack(t);
  assert.equal((await get(`${direct.baseURL}/models`, { headers: forwarded, localAddress: '127.0.0.9' })).status, 401);
  const behind = await startStack(t, { env: { TRUST_PROXY: 'true' } });
  assert.equal((await get(`${behind.baseURL}/models`, { headers: forwarded })).status, 401);
  assert.equal((await get(`${behind.baseURL}/models`, { headers: { authorization: forwarded.authorization } })).status, 401);
  const ips = (s: typeof direct) =>
    s.logs
      .lines()
      .filter((l) => l.security_event === true && l.event === 'auth_failed')
      .map((l) => l.ip);
  assert.deepEqual(ips(direct), ['127.0.0.9'], 'without TRUST_PROXY the socket peer counts, whatever the header says');
  assert.deepEqual(ips(behind), ['198.51.100.7', '127.0.0.1'], 'behind a proxy: the address the proxy saw (the last hop), else the peer');
  assert.throws(() => createConfig({ TRUST_PROXY: 'maybe' }), /TRUST_PROXY="maybe": expected true/);
});

test("WEBHOOK_URL must be https with Telegram's own Bot API; a self-hosted Bot API server may use http", () => {
  assert.throws(
    () => createConfig({ WEBHOOK_URL: 'http://shop.example.com', WEBHOOK_SECRET_TOKEN: 'abc' }),
    /WEBHOOK_URL="http:\/\/shop\.example\.com": Telegram delivers webhooks only to https:\/\/ URLs/,
  );
  assert.equal(createConfig({ WEBHOOK_URL: 'https://shop.example.com', WEBHOOK_SECRET_TOKEN: 'abc' }).webhookUrl, 'https://shop.example.com');
  assert.equal(createConfig({ WEBHOOK_URL: 'http://127.0.0.1:8000', WEBHOOK_SECRET_TOKEN: 'abc', TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' }).webhookUrl, 'http://127.0.0.1:8000');
});
