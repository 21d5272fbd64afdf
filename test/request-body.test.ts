/**
 * The one bounded body reader (src/request-body.ts) over a real loopback socket: the whole body when it
 * fits, `too_large` as soon as it passes the limit (the rest is not buffered), `aborted` when the client
 * goes away mid-body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { readBody, type BodyRead } from '../src/request-body.js';

async function withServer(limit: number, fn: (port: number, read: Promise<BodyRead>) => Promise<void>): Promise<void> {
  let deliver!: (r: BodyRead) => void;
  const read = new Promise<BodyRead>((resolve) => (deliver = resolve));
  const server = createServer((req: IncomingMessage, res) => {
    void readBody(req, limit).then((r) => {
      deliver(r);
      if (!res.destroyed) res.end(typeof r === 'string' ? r : `${r.length}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port, read);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function post(port: number, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('readBody: a body within the limit arrives whole, byte for byte', async () => {
  const body = Buffer.from('é'.repeat(40_000));
  await withServer(body.length, async (port, read) => {
    assert.equal(await post(port, body), String(body.length));
    const got = await read;
    assert.ok(Buffer.isBuffer(got));
    assert.ok(got.equals(body));
  });
});

test('readBody: one byte over the limit is too_large', async () => {
  await withServer(1000, async (port, read) => {
    assert.equal(await post(port, Buffer.alloc(1001, 0x61)), 'too_large');
    assert.equal(await read, 'too_large');
  });
});

test('readBody: a client that leaves mid-body is aborted', async () => {
  await withServer(1 << 20, async (port, read) => {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100\r\n\r\nhalf', () => socket.destroy());
    assert.equal(await read, 'aborted');
  });
});

test('readBody: once answered it leaves no listener on the request (a stream open for minutes would keep every chunk read)', async () => {
  const events = ['data', 'end', 'error', 'close'] as const;
  const counts = (req: IncomingMessage) => events.map((e) => req.listenerCount(e));
  const seen: Array<{ before: number[]; after: number[] }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    const before = counts(req);
    void readBody(req, req.url === '/small' ? 100 : 1 << 20).then(() => {
      seen.push({ before, after: counts(req) });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    await post(port, Buffer.alloc(200_000, 0x61));
    // too_large: the reader stops at the limit, the rest unread
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/small' }, (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      req.end(Buffer.alloc(1000, 0x61));
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(seen.length, 2);
  for (const { before, after } of seen) assert.deepEqual(after, before, `listeners (${events.join(', ')}) before and after the read`);
});
