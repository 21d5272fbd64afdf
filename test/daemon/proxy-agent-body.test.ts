/**
 * The agent protocols' body limit: a coding agent resends its whole session with every call, so a long
 * Claude Code session sends bodies of several MiB. /v1/messages and /v1/responses take up to 8 MiB (chat,
 * completions and embeddings keep 1 MiB: proxy.test.ts); a bigger body is a 413 in the protocol's shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { meteringRule, weighTokenClasses } from '../../src/pricing.js';
import { allocation, openReservations, startStack, usageEvents } from './harness.js';

const SONNET = 'anthropic/claude-sonnet-4.6';
const sonnet = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });
const MIB = 1024 * 1024;

/** A Claude Code-like session of about `bytes`: alternating turns of varied prose, tools, a system prompt. */
function session(bytes: number): string {
  const turns: Array<{ role: string; content: unknown }> = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const text = Array.from({ length: 400 }, (_, j) => `word${(i * 401 + j) % 9973} `).join('') + `turn ${i}.`;
    turns.push(i % 2 === 0 ? { role: 'user', content: [{ type: 'text', text }] } : { role: 'assistant', content: text });
    size += text.length + 60;
  }
  if (turns.at(-1)!.role !== 'user') turns.push({ role: 'user', content: 'Go on.' });
  return JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 32000,
    stream: true,
    system: [{ type: 'text', text: 'You are Claude Code. '.repeat(200), cache_control: { type: 'ephemeral' } }],
    tools: [{ name: 'Bash', description: 'Runs a command', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }],
    metadata: { user_id: 'user_abc' },
    messages: turns,
  });
}

test('a ~3 MiB Messages request (a long Claude Code session) from a key with quota is served and metered exactly', async (t) => {
  const stack = await startStack(t, { model: SONNET, tokens: 20_000_000 });
  const { key, allocationId } = await stack.buyKey();
  const body = session(3 * MIB);
  assert.ok(body.length > 3_000_000 && body.length < 4 * MIB, `${body.length} bytes`);
  const r = await fetch(`${stack.daemon.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body,
  });
  const text = await r.text();
  assert.equal(r.status, 200, text.slice(0, 500));
  assert.match(text, /event: message_stop/);
  assert.doesNotMatch(text, /"cost"/, 'no wholesale cost reaches the customer');

  await stack.daemon.idle();
  await stack.sim.idle();
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.endpoint, 'messages');
  const events = await usageEvents(stack.handle, allocationId);
  assert.equal(events.length, 1);
  assert.equal(events[0].status_code, 200);
  assert.equal(events[0].estimated, 0);
  assert.equal(events[0].weighted_tokens, weighTokenClasses(sonnet, rec.tokens), 'charged what the upstream served');
  assert.ok(events[0].prompt_tokens > 500_000, `the whole session was billed: ${events[0].prompt_tokens} prompt tokens`);
  const a = await allocation(stack.handle, allocationId);
  assert.equal(a.tokens_used, events[0].weighted_tokens);
  assert.equal(await openReservations(stack.handle), 0);
});

test('a body over 8 MiB on /v1/messages is a 413 in Anthropic’s shape (and over 8 MiB on /v1/responses in OpenAI’s); nothing is forwarded or charged', async (t) => {
  const stack = await startStack(t, { model: SONNET, tokens: 20_000_000 });
  const { key, allocationId } = await stack.buyKey();
  const big = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'x'.repeat(8 * MIB) }] });
  const r = await fetch(`${stack.daemon.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: big });
  assert.equal(r.status, 413);
  const j = (await r.json()) as { type: string; error: { type: string; message: string } };
  assert.equal(j.type, 'error');
  assert.equal(j.error.type, 'request_too_large');
  assert.match(j.error.message, /8 MiB/);

  const responses = await fetch(`${stack.daemon.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: SONNET, input: 'y'.repeat(8 * MIB) }),
  });
  assert.equal(responses.status, 413);
  assert.equal(((await responses.json()) as { error: { code: string } }).error.code, 'request_too_large');

  await stack.daemon.idle();
  assert.equal(stack.sim.requests.length, 0, 'nothing was forwarded');
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);
  assert.equal((await allocation(stack.handle, allocationId)).tokens_used, 0);
});

/** A raw HTTP/1.1 connection: write bytes, read whole responses (their head and a body of content-length bytes). */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let buffer = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    wake?.();
  });
  const onClose = () => {
    closed = true;
    wake?.();
  };
  socket.on('end', onClose);
  socket.on('close', onClose);
  socket.on('error', onClose);
  return {
    write: (data: string | Buffer) => new Promise<void>((resolve) => socket.write(data, () => resolve())),
    /** the next whole response, or null when the server closed the connection first */
    async response(): Promise<{ status: number; headers: Record<string, string>; body: string } | null> {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end !== -1) {
          const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
          const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
          const length = Number(headers['content-length'] ?? 0);
          if (buffer.length >= end + 4 + length) {
            const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
            buffer = buffer.subarray(end + 4 + length);
            return { status: Number(statusLine.split(' ')[1]), headers, body };
          }
        }
        if (closed) return null;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    closed: () => closed,
    destroy: () => socket.destroy(),
  };
}

test('a body refused for its declared size is read and dropped after the 413: the client (or nginx) can finish sending, and the connection serves the next request', async (t) => {
  const stack = await startStack(t);
  const { key, allocationId } = await stack.buyKey();
  const conn = rawConnection(stack.daemon.url);
  t.after(() => conn.destroy());
  const size = 3 * MIB; // over chat's 1 MiB
  await conn.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: arb\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`);
  // the answer comes before the body is sent, as nginx (which sends the whole body first) may see it
  const refused = await conn.response();
  assert.equal(refused?.status, 413);
  assert.notEqual(refused?.headers.connection, 'close');
  assert.match((JSON.parse(refused!.body) as { error: { message: string } }).error.message, /limit is 1048576 bytes/);
  await conn.write(Buffer.alloc(size, 0x20));
  await conn.write(`GET /v1/models HTTP/1.1\r\nhost: arb\r\nauthorization: Bearer ${key}\r\n\r\n`);
  const next = await conn.response();
  assert.equal(next?.status, 200, 'the same connection answers the next request');
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);

  // a body declared too big to be worth reading: the connection closes after the answer
  const huge = rawConnection(stack.daemon.url);
  t.after(() => huge.destroy());
  await huge.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: arb\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${64 * MIB}\r\n\r\n`);
  const closing = await huge.response();
  assert.equal(closing?.status, 413);
  assert.equal(closing?.headers.connection, 'close');
  assert.equal(await huge.response(), null, 'then the server closes the connection');
  assert.equal(stack.sim.requests.length, 0, 'nothing was forwarded');
});
