/**
 * UpstreamBody, the reader of upstream responses (undici dispatch, no Readable stream): chunks are handed
 * over in order whether they arrive before or after the reader (those of one socket read as one),
 * pause/resume reach undici's controller, an error after some chunks delivers them first, and a dumped
 * body drops what comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Dispatcher } from 'undici';
import { UpstreamBody } from '../../daemon/http/upstream.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { allocation, openReservations, startStack, usageEvents } from './harness.js';

function controller() {
  const calls: string[] = [];
  const c = {
    aborted: false,
    paused: false,
    reason: null,
    abort: () => calls.push('abort'),
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  } as unknown as Dispatcher.DispatchController;
  return { c, calls };
}

const b = (s: string) => Buffer.from(s);

test('chunks that arrived before the reader, and after it, are read whole and in order', async () => {
  const { c } = controller();
  const body = new UpstreamBody(c);
  body.push(b('ab'));
  body.push(b('cd'));
  assert.equal(body.readableLength, 4);
  const whole = body.text();
  body.push(b('ef'));
  body.end();
  assert.equal(await whole, 'abcdef');
  assert.equal(body.readableLength, 0);
});

/** lets the microtask that hands over the chunks of one socket read run */
const afterRead = () => new Promise<void>((r) => setImmediate(r));

test('the chunks of one read are handed over as one, in order, once the read is parsed', async () => {
  const { c } = controller();
  const body = new UpstreamBody(c);
  const seen: string[] = [];
  const done = body.forEach((chunk) => {
    seen.push(chunk.toString());
    return true;
  });
  // a streaming upstream sends every SSE event as its own HTTP chunk; undici parses a socket read into them
  body.push(b('data: 1\n\n'));
  body.push(b('data: 2\n\n'));
  body.push(b('data: 3\n\n'));
  assert.deepEqual(seen, [], 'nothing is handed over in the middle of a read');
  await afterRead();
  assert.deepEqual(seen, ['data: 1\n\ndata: 2\n\ndata: 3\n\n']);
  body.push(b('data: 4\n\n'));
  await afterRead();
  body.push(b('data: [DONE]\n\n'));
  body.end();
  await done;
  assert.deepEqual(seen, ['data: 1\n\ndata: 2\n\ndata: 3\n\n', 'data: 4\n\n', 'data: [DONE]\n\n']);
});

test('a reader returning false pauses the upstream; resume hands over what waited, then resumes it', async () => {
  const { c, calls } = controller();
  const body = new UpstreamBody(c);
  const seen: string[] = [];
  let accept = false;
  const done = body.forEach((chunk) => {
    seen.push(chunk.toString());
    return accept;
  });
  body.push(b('1'));
  await afterRead();
  assert.deepEqual(calls, ['pause']);
  body.push(b('2')); // undici may still deliver what its parser holds
  body.push(b('3'));
  await afterRead();
  assert.deepEqual(seen, ['1'], 'nothing is handed over while paused');
  assert.equal(body.readableLength, 2);
  accept = true;
  body.resume();
  assert.deepEqual(seen, ['1', '23']);
  assert.deepEqual(calls, ['pause', 'resume']);
  body.push(b('4'));
  body.end();
  await done;
  assert.deepEqual(seen, ['1', '23', '4']);
});

test('an error after some chunks hands those over first, then rejects; the end after an error changes nothing', async () => {
  const { c } = controller();
  const body = new UpstreamBody(c);
  body.push(b('x'));
  body.push(b('y'));
  body.fail(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
  body.end();
  const seen: string[] = [];
  await assert.rejects(
    body.forEach((chunk) => {
      seen.push(chunk.toString());
      return true;
    }),
    { code: 'UND_ERR_SOCKET' },
  );
  assert.deepEqual(seen.join(''), 'xy');
});

test('dump drops the body (a failed-over 5xx) and resumes a paused upstream; a second reader is refused', async () => {
  const { c, calls } = controller();
  const body = new UpstreamBody(c);
  const first = body.forEach(() => false);
  body.push(b('1'));
  await afterRead();
  body.dump();
  assert.deepEqual(calls, ['pause', 'resume']);
  body.push(b('2'));
  assert.equal(body.readableLength, 0);
  await assert.rejects(body.text(), /already being read/);
  body.end();
  await first;
});

test('a client that reads slowly gets the whole stream intact, charged from the upstream usage', async (t) => {
  // 4,096 tokens (gpt-4's cap) written by the simulator without delay: ~0.6 MB of SSE against a client that
  // stops reading for a while after every 64 KiB
  const stack = await startStack(t, { sim: { chunkDelayMs: 0, completionTokens: 4096 } });
  const { key, allocationId } = await stack.buyKey();
  const url = new URL(`${stack.baseURL}/chat/completions`);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let out = '';
      let sincePause = 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        out += d;
        sincePause += d.length;
        if (sincePause > 64 * 1024) {
          sincePause = 0;
          res.pause();
          setTimeout(() => res.resume(), 40);
        }
      });
      res.on('end', () => resolve(out));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Write a long story.' }], stream: true }));
  });
  const events = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { delta?: { content?: string } }[]; usage?: { completion_tokens: number } });
  const usage = chunks.findLast((ch) => ch.usage)?.usage;
  assert.equal(usage?.completion_tokens, 4096);
  assert.equal(chunks.filter((ch) => ch.choices[0]?.delta?.content).length, 4096, 'every token chunk arrived once');
  await stack.daemon.idle();
  const [ev] = await usageEvents(stack.handle, allocationId);
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(ev.outcome, 'ok');
  assert.equal(ev.estimated, 0);
  assert.equal(ev.weighted_tokens, rec.promptTokens + 2 * 4096);
  assert.equal((await allocation(stack.handle, allocationId)).tokens_used, ev.weighted_tokens);
  assert.equal(await openReservations(stack.handle), 0);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});
