import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb } from './support.js';

async function fakeDaemon(t: TestContext, status: number, body: unknown): Promise<number> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/health') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

const OK = { status: 'ok', checks: { database: 'ok', redis: 'disabled', openrouter: 'ok', telegram: 'disabled' }, version: '0.1.0', uptime_s: 3725, instance_id: 'i-1', in_flight: 0 };

test('arb health asks the running daemon on 127.0.0.1:PORT', async (t) => {
  const port = await fakeDaemon(t, 200, OK);
  const env = arbEnv(tempDir(t), { PORT: String(port) });
  const json = await runArb(['health', '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { reachable: true, url: `http://127.0.0.1:${port}/health`, http_status: 200, ...OK });
  const text = await runArb(['health'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^status: +ok \(HTTP 200\)$/m);
  assert.match(text.stdout, /^uptime: +1h 2m$/m);
  assert.match(text.stdout, /^redis: +disabled$/m);
});

test('arb health: an unhealthy daemon (503) is exit 1 with the failing check', async (t) => {
  const port = await fakeDaemon(t, 503, { ...OK, status: 'error', checks: { ...OK.checks, database: 'error' }, errors: { database: 'disk I/O error' } });
  const env = arbEnv(tempDir(t), { PORT: String(port) });
  const r = await runArb(['health'], env);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^status: +error \(HTTP 503\)$/m);
  assert.match(r.stdout, /^database: +error — disk I\/O error$/m);
});

test('arb health: no daemon is a clear message and exit 1', async (t) => {
  // a port that was just free
  const closed = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const r = await runArb(['health'], arbEnv(tempDir(t), { PORT: String(closed) }));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: the daemon is not running on 127.0.0.1:${closed} (nothing is listening there); start it with npm start (or systemctl start arb), or set PORT to where it listens\n`);
});

test('arb health --url: a daemon on another host (base URL, host:port or the /health URL); a bad URL is exit 2', async (t) => {
  const port = await fakeDaemon(t, 200, OK);
  // PORT points nowhere: --url is what is asked
  const env = arbEnv(tempDir(t), { PORT: '9' });
  for (const url of [`http://127.0.0.1:${port}`, `127.0.0.1:${port}`, `http://127.0.0.1:${port}/health`, `http://localhost:${port}/`]) {
    const r = await runArb(['health', '--url', url, '--json'], env);
    assert.equal(r.code, 0, `${url}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.reachable, true);
    assert.equal(doc.status, 'ok');
    assert.match(doc.url, new RegExp(`^http://(127\\.0\\.0\\.1|localhost):${port}/health$`));
  }
  const text = await runArb(['health', '--url', `127.0.0.1:${port}`], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^daemon: +http://127\\.0\\.0\\.1:${port}$`, 'm'));
  const bad = await runArb(['health', '--url', 'ftp://example.com'], env);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'error: --url: ftp: is not supported; use an http:// or https:// URL\n');
});

test('arb health --json always prints a document: {"reachable":false,…} and exit 1 when the daemon is down', async (t) => {
  const closed = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const env = arbEnv(tempDir(t), { PORT: String(closed) });
  for (const args of [
    ['health', '--json'],
    ['health', '--url', `http://127.0.0.1:${closed}`, '--json'],
  ]) {
    const r = await runArb(args, env);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '');
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.reachable, false);
    assert.equal(doc.url, `http://127.0.0.1:${closed}/health`);
    assert.match(doc.error, /\(nothing is listening there\)$/);
    assert.ok(doc.hint.length > 0);
  }
  // something that is not arb answers: reachable as a socket, but not a daemon
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>nginx</html>'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const other = await runArb(['health', '--url', `127.0.0.1:${(server.address() as AddressInfo).port}`, '--json'], env);
  assert.equal(other.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(other.stdout)).sort(), ['error', 'hint', 'http_status', 'reachable', 'url']);
});
