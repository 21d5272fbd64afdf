/**
 * No customer can stall the others (issue 17): hostile prompts — random text, 200k characters of emoji and
 * CJK, many at once — on an empty key and on a key with a little left (where the hold needs the tokenizer)
 * never hold the daemon's event loop past 100 ms, and /health answers meanwhile. The daemon runs in this
 * process, so monitorEventLoopDelay sees its loop; on a machine so busy that the loop waits for a CPU,
 * the CPU it spent in its longest gap tells holding from waiting (test/support/loop-watch.ts). One hostile
 * request counted on the loop used to hold it for seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { MAX_BODY_BYTES_PER_KEY } from '../../daemon/http/proxy.js';
import { until } from '../support/wait.js';
import { assertNeverHeld, watchLoop } from '../support/loop-watch.js';
import { startStack, usageEvents } from './harness.js';

/** The hostile prompts, built in the customers' thread (so the daemon's loop never pays for them). */
const PROMPTS = `
let seed = 11;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const PROMPTS = [
  Array.from({ length: 200000 }, () => String.fromCharCode(0x21 + Math.floor(rnd() * 0x5000))).join(''),
  Array.from({ length: 100000 }, (_, i) => String.fromCodePoint(0x1f300 + ((i * 37) % 700))).join(''),
  Array.from({ length: 200000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join(''),
  Array.from({ length: 120 }, (_, i) => 'word' + i + ' ' + '漢字'.repeat(400) + ' 🦊🦊 ' + 'x'.repeat(300)).join('\\n'),
];`;

/**
 * The customers, in a child process (their own CPU: building and sending 16 bodies of up to 800 KB is not
 * the daemon's work): 16 hostile requests at once, and /health polled until they are answered.
 */
const CUSTOMERS = `
${PROMPTS}
process.once('message', async ({ url, key, health }) => {
  const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify({ model: 'gpt-4', max_tokens: 50, messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }] }));
  process.send('ready');
  await new Promise((r) => process.once('message', r));
  let healthOk = 0;
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      const r = await fetch(health);
      if (r.status === 200) healthOk++;
      await r.arrayBuffer();
    }
  })();
  const statuses = await Promise.all(bodies.map(async (body) => {
    const r = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body });
    await r.arrayBuffer();
    return r.status;
  }));
  stop = true;
  await poll;
  process.send({ statuses, healthOk }, () => process.exit(0));
});`;

async function storm(url: string, key: string, health: string) {
  const child = spawn(process.execPath, ['-e', CUSTOMERS], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let watch: ReturnType<typeof watchLoop> | undefined;
  const result = await new Promise<{ statuses: number[]; healthOk: number }>((resolve, reject) => {
    child.on('message', (m: 'ready' | { statuses: number[]; healthOk: number }) => {
      if (m !== 'ready') return resolve(m);
      watch = watchLoop();
      child.send('go');
    });
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`the customers' process exited with ${code}`)));
    child.send({ url, key, health });
  });
  return { ...result, loop: watch!.stop() };
}

test('hostile prompts on an empty key cost nothing: refused at once, the loop never stalls, /health answers', async (t) => {
  const stack = await startStack(t);
  const { key, allocationId } = await stack.buyKey();
  await stack.handle.db.updateTable('ai_token_allocations').set({ tokens_used: 100_000 }).where('id', '=', allocationId).execute();
  const r = await storm(`${stack.baseURL}/chat/completions`, key, `${stack.daemon.url}/health`);
  assert.deepEqual([...new Set(r.statuses)], [402]);
  assertNeverHeld(r.loop);
  assert.ok(r.healthOk > 0, '/health answered during the storm');
  assert.equal(stack.sim.requests.filter((r) => r.endpoint === 'chat').length, 0, 'nothing was forwarded');
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);
});

test('hostile prompts on a key with a little left (the hold counts them exactly, in slices): the loop never stalls, /health answers', async (t) => {
  const stack = await startStack(t);
  const { key, allocationId } = await stack.buyKey();
  // 20,000 tokens left: too few for the prompts' byte bound (the fast hold), so each is counted
  await stack.handle.db.updateTable('ai_token_allocations').set({ tokens_used: 80_000 }).where('id', '=', allocationId).execute();
  const r = await storm(`${stack.baseURL}/chat/completions`, key, `${stack.daemon.url}/health`);
  assert.ok(
    r.statuses.every((s) => s === 402 || s === 200),
    r.statuses.join(),
  );
  assert.ok(r.statuses.includes(402), 'the huge prompts were refused after counting');
  assertNeverHeld(r.loop);
  assert.ok(r.healthOk > 0, '/health answered during the storm');
});

/** Opens a request with the key and sends the headers and part of the body, then nothing more. */
function trickle(url: URL, key: string, path: string, declared: number): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"model":"gpt-4","messages":[{"role":"user","content":"`,
      );
      socket.write('x'.repeat(64 * 1024));
      let text = '';
      socket.on('data', (d) => (text += String(d)));
      const answer = new Promise<string>((done) => socket.once('close', () => done(text)));
      resolve({ socket, answer });
    });
    socket.once('error', reject);
  });
}

test('bodies trickled and never finished hold no memory for long and cost nothing: 32 MiB of bodies per key at once, then 429; a 408 after the request timeout', async (t) => {
  const stack = await startStack(t, { daemon: { requestTimeoutMs: 1500 } });
  const { key, allocationId } = await stack.buyKey();
  const url = new URL(stack.daemon.url);
  // four bodies of (declared) 8,000,000 bytes each, under the 8 MiB limit of /v1/messages, sent in part and then nothing
  const declared = 8_000_000;
  const count = Math.floor(MAX_BODY_BYTES_PER_KEY / declared);
  assert.equal(count, 4);
  const stalled = await Promise.all(Array.from({ length: count }, () => trickle(url, key, '/v1/messages', declared)));
  t.after(() => stalled.forEach((s) => s.socket.destroy()));
  // the key's next large body is refused before it is read; another key is not affected
  const probe = `{${' '.repeat(1_999_998)}}`;
  await until('a body past 32 MiB of one key is refused', async () => {
    const r = await fetch(`${stack.daemon.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      // not a valid request: a 400 while the trickles are still being admitted, never a charge
      body: probe,
    });
    const body = (await r.json()) as { error: { message: string } };
    if (r.status !== 429) return false;
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(body.error.message, /still sending 30\.5 MiB of request bodies \(at most 32 MiB at once\)/);
    return true;
  });
  // small requests of the same key still go through: the limit is bytes, not requests
  const small = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  assert.ok(small.choices[0].message.content);
  const other = await stack.buyKey({ telegramId: 777_001 });
  const ok = await stack.client(other.key).chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  assert.ok(ok.choices[0].message.content);
  // Node answers the stalled requests 408 and closes them once the request timeout passes
  const answers = await Promise.all(stalled.map((s) => s.answer));
  for (const a of answers) assert.match(a, /^HTTP\/1\.1 408 /);
  // the key sends again as usual, and nothing of the stalled bodies was charged or held
  const after = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  assert.ok(after.choices[0].message.content);
  await stack.daemon.idle();
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 2);
  assert.equal(stack.sim.requests.length, 3);
});
