/**
 * HTTPS end to end: real nginx running daemon/deploy/nginx-lb.conf with a self-signed certificate in
 * front of two daemon replicas, which it finds the way it does in Docker — by resolving the service name
 * `app` (here through a small DNS server instead of 127.0.0.11) — and the `openai` client over HTTPS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { startDaemon } from '../../daemon/main.js';
import { HELLO, captureLogger, startStack } from './harness.js';
import { tempDir } from '../support/db.js';
import { freePort, NGINX_SKIP, selfSignedCert, startDns, startNginx } from './deploy-nginx.js';

function plainGet(port: number, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'localhost' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test(
  'nginx-lb.conf: TLS in front of two replicas found by DNS, the openai client over HTTPS, HSTS, HTTP -> HTTPS, access log with request ids, client address via TRUST_PROXY',
  { skip: NGINX_SKIP },
  async (t) => {
    const dir = tempDir(t, 'arb-nginx-');
    const { cert, key } = selfSignedCert(dir);

    // two replicas on one database, as docker-compose.scale.yml runs them: same port, two addresses
    const stack = await startStack(t, { env: { TRUST_PROXY: 'true' }, daemon: { host: '127.0.0.2' } });
    const port = stack.daemon.port;
    const secondLogs = captureLogger();
    const second = await startDaemon({ config: stack.config, handle: stack.handle, logger: secondLogs.logger, host: '127.0.0.3', port, bot: false, alerts: false, defaultMetrics: false });
    t.after(() => second.stop());
    const dns = await startDns(t, 'app', ['127.0.0.2', '127.0.0.3']);

    const httpPort = await freePort();
    const httpsPort = await freePort();
    await startNginx(t, { dir, cert, key, httpPort, httpsPort, dnsPort: dns.port, appPort: port });

    // the customer's side: the openai SDK against https://localhost:PORT/v1, trusting the test CA, from 127.0.0.5
    const agent = new Agent({ connect: { ca: readFileSync(cert) }, localAddress: '127.0.0.5' });
    t.after(() => agent.close());
    const tlsFetch = ((url: string, init: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher: agent })) as never;
    const { key: apiKey } = await stack.buyKey();
    const client = new OpenAI({ apiKey, baseURL: `https://localhost:${httpsPort}/v1`, maxRetries: 0, timeout: 20_000, fetch: tlsFetch });
    const seen = new Set<string>();
    // nginx starts each request at a random address of the name's answer: ask until both replicas answered
    const access = () => readFileSync(join(dir, 'access.log'), 'utf8').trim().split('\n');
    const upstreamsSeen = () => new Set(access().map((l) => /upstream=(\S+)/.exec(l)?.[1]));
    const bothServed = () => upstreamsSeen().has(`127.0.0.2:${port}`) && upstreamsSeen().has(`127.0.0.3:${port}`);
    for (let i = 0; i < 6 || (i < 60 && !bothServed()); i++) {
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO }).withResponse();
      assert.ok(data.choices[0].message.content);
      assert.equal(response.headers.get('strict-transport-security'), 'max-age=63072000; includeSubDomains');
      seen.add(response.headers.get('x-request-id')!);
    }
    const stream = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(streamed.length > 0, 'a stream comes through TLS and nginx unbuffered');
    assert.ok(dns.queries() >= 1, 'nginx resolved the service name');

    // bodies past nginx's old 2 MB limit reach arb, which answers in the client's protocol (a long Claude
    // Code session's body passes 2 MiB; arb takes 8 MiB on /v1/messages): here a 3 MiB Messages body with
    // a model this key does not have, and a 3 MiB chat body (1 MiB limit on chat)
    const big = 'x'.repeat(3 * 1024 * 1024);
    const post = (path: string, headers: Record<string, string>, body: unknown) =>
      undiciFetch(`https://localhost:${httpsPort}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const messages = await post('/v1/messages', { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' }, { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: big }] });
    assert.equal(messages.status, 403);
    const refused = (await messages.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(refused.type, 'error', 'the Anthropic error shape');
    assert.match(refused.error.message, /not in this key's package/);
    const chat = await post('/v1/chat/completions', { authorization: `Bearer ${apiKey}` }, { model: 'gpt-4', messages: [{ role: 'user', content: big }] });
    assert.equal(chat.status, 413);
    assert.match(((await chat.json()) as { error: { message: string } }).error.message, /limit is 1048576 bytes/);

    // both replicas served (nginx balanced over every address of `app`)
    const upstreams = upstreamsSeen();
    assert.ok(upstreams.has(`127.0.0.2:${port}`) && upstreams.has(`127.0.0.3:${port}`), [...upstreams].join(' '));
    // each access line carries nginx's request id and the daemon's (the one the client saw)
    for (const id of seen)
      assert.ok(
        access().some((l) => /request_id=[0-9a-f]{32} /.test(l) && l.includes(`arb_request_id=${id}`)),
        id,
      );
    assert.ok(
      access().every((l) => l.startsWith('127.0.0.5 ')),
      'the access log has the client address',
    );

    // the daemons saw the client's address (X-Forwarded-For from nginx, believed with TRUST_PROXY), not nginx's
    const bad = new OpenAI({ apiKey: 'sk-arb-wrong-key-000000000000000000', baseURL: `https://localhost:${httpsPort}/v1`, maxRetries: 0, fetch: tlsFetch });
    await assert.rejects(bad.models.list(), (e: unknown) => (e as { status?: number }).status === 401);
    const lines = [...stack.logs.lines(), ...secondLogs.lines()];
    const failures = lines.filter((l) => l.security_event === true && l.event === 'auth_failed');
    assert.deepEqual(
      failures.map((l) => l.ip),
      ['127.0.0.5'],
    );
    const calls = lines.filter((l) => l.api_call === true && l.service === 'proxy');
    assert.ok(calls.length >= 8, `${calls.length} api_call lines`);
    assert.deepEqual([...new Set(calls.map((l) => l.ip))], ['127.0.0.5'], 'every api_call line carries the client address');
    for (const id of seen)
      assert.ok(
        calls.some((l) => l.request_id === id),
        `api_call line for ${id}`,
      );

    // plain HTTP: redirected to HTTPS, except Let's Encrypt's challenge files
    const redirect = await plainGet(httpPort, '/v1/models');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, 'https://localhost/v1/models');
    mkdirSync(join(dir, 'certbot', '.well-known', 'acme-challenge'), { recursive: true });
    writeFileSync(join(dir, 'certbot', '.well-known', 'acme-challenge', 'token-1'), 'token-1.thumbprint');
    const challenge = await plainGet(httpPort, '/.well-known/acme-challenge/token-1');
    assert.equal(challenge.status, 200);
    assert.equal(challenge.body, 'token-1.thumbprint');
    // /metrics is not published through nginx
    const metrics = await undiciFetch(`https://localhost:${httpsPort}/metrics`, { dispatcher: agent });
    assert.equal(metrics.status, 404);
  },
);
