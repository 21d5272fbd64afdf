import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens } from 'gpt-tokenizer';
import { assertNeverHeld, watchLoop } from '../support/loop-watch.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { countPromptTokens, countTexts, promptUpperBound, startTokenCounter, stopTokenCounter, textTokensUpperBound, tokenCounterThreadForTests } from '../../src/metering/tokens.js';
import { countTextTokens } from '../../src/metering/token-count.js';
import { chatPrompt } from '../../daemon/http/protocols/chat.js';

const estimatePromptTokens = (body: Record<string, unknown>) => countPromptTokens(chatPrompt(body));
const promptTokensUpperBound = (body: Record<string, unknown>) => promptUpperBound(chatPrompt(body));

const TEXTS = [
  '',
  'Hello',
  'Say hello in five words.',
  'a'.repeat(1000), // one token per many bytes
  ' '.repeat(257),
  '0123456789'.repeat(40),
  '🦊🦊🦊 emoji 👩‍👩‍👧‍👦 family',
  '東京は日本の首都です。中文文本，한국어 텍스트',
  'Ελληνικά και русский текст, עברית, العربية',
  'code: for (let i = 0; i < n; i++) { sum += a[i] * b[i]; }\n\tindented\r\nCRLF',
  'special-token text is plain text: <|endoftext|> <|im_start|>user<|im_end|>',
  '\u0000\u0001\u0002 control characters \u007f',
  'lone surrogate \ud800 here',
  'Ümläüte & ß, café, naïve — “quotes” … ellipsis',
];

test('textTokensUpperBound is never below the tokenizer count', () => {
  for (const t of TEXTS) assert.ok(textTokensUpperBound(t) >= countTextTokens(t), JSON.stringify(t.slice(0, 40)));
});

test('countPromptTokens: exact within its work budget, the byte bound beyond — never below the exact count', async () => {
  // prose first (few tokens per byte), then dense text past the budget: padding cannot make the count small
  const texts = ['ascii text '.repeat(2_000), '東京の'.repeat(10_000), '🦊'.repeat(5_000)];
  const exact = texts.reduce((n, t) => n + countTextTokens(t), 0);
  const bound = promptUpperBound({ overhead: 7, texts });
  assert.equal(await countPromptTokens({ overhead: 7, texts }, 0), bound, 'no budget: the byte bound');
  for (const budget of [1_000, 22_000, 100_000, 250_000]) {
    const n = await countPromptTokens({ overhead: 7, texts }, budget);
    assert.ok(n >= exact + 7 && n <= bound, `budget ${budget}: ${n} outside [${exact + 7}, ${bound}]`);
  }
  assert.ok((await countPromptTokens({ overhead: 7, texts }, 100_000)) > exact + 7, 'the CJK past the budget was bounded');
  assert.equal(await countPromptTokens({ overhead: 7, texts }), exact + 7, 'the default budget counts ordinary prompts whole');
});

test('countPromptTokens never holds the event loop: 1 MiB of random text, emoji and CJK, several at once', async () => {
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const random = Array.from({ length: 300_000 }, () => String.fromCharCode(0x21 + Math.floor(rnd() * 0x6000))).join('');
  const emoji = Array.from({ length: 100_000 }, (_, i) => String.fromCodePoint(0x1f600 + (i % 80))).join('');
  const cjk = Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
  const watch = watchLoop();
  const counts = await Promise.all([random, emoji, cjk, random].map((t) => countPromptTokens({ overhead: 3, texts: [t] })));
  const loop = watch.stop();
  for (const n of counts) assert.ok(n > 0);
  assertNeverHeld(loop);
});

test('promptTokensUpperBound ≥ estimatePromptTokens on a corpus of chat bodies', async () => {
  const bodies: Record<string, unknown>[] = [
    { messages: [{ role: 'user', content: 'Say hello in five words.' }] },
    { messages: TEXTS.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })) },
    {
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe this image' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"東京"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"result":"ok"}' },
        { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
        { role: 'user', content: { unusual: 'shape' } },
      ],
      tools: [{ type: 'function', function: { name: 'lookup', description: 'Look things up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      functions: [{ name: 'f', parameters: {} }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    },
    { messages: [{ role: 'user', content: 'x' }, 'not an object', null] },
    { messages: [{ role: 'user', content: 'lorem ipsum dolor '.repeat(3_000) + ' the end' }] },
  ];
  for (const [i, body] of bodies.entries()) {
    const exact = await estimatePromptTokens(body);
    const bound = promptTokensUpperBound(body);
    assert.ok(bound >= exact, `body ${i}: bound ${bound} < estimate ${exact}`);
  }
});

test('special-token strings in a prompt are counted as text, not refused', async () => {
  const n = await estimatePromptTokens({ messages: [{ role: 'user', content: 'what is <|endoftext|>?' }] });
  assert.ok(n > 6);
});

// gpt-tokenizer's merge is quadratic in the length of one pre-token, and a run without spaces is one
// pre-token: counted whole, 20,000 CJK characters blocked the event loop ~2 s and these texts would take
// minutes each (this test would time out). countTextTokens cuts such runs into short pieces.
test('long runs without spaces (CJK, one repeated letter, base64, whitespace) are counted in linear time', () => {
  const cjk = '漢字かな交じり文'.repeat(8_000); // 64,000 characters, no space
  const n = countTextTokens(cjk);
  assert.ok(n >= cjk.length / 4 && n <= cjk.length, `${n} tokens for ${cjk.length} CJK characters`);
  const letters = 'a'.repeat(300_000); // 4,688 pieces of 64 letters
  const l = countTextTokens(letters);
  assert.ok(l >= 300_000 / 16 && l <= 300_000 / 4, `${l} tokens for 300,000 × "a"`);
  const blob = Buffer.from(Array.from({ length: 48_000 }, (_, i) => (i * 7919) % 256)).toString('base64');
  const b = countTextTokens(blob);
  assert.ok(b >= blob.length / 8 && b <= textTokensUpperBound(blob), `${b} tokens for a ${blob.length}-character base64 blob`);
  assert.ok(countTextTokens(`x${' '.repeat(50_000)}y`) >= 1);
  // the estimate stays an upper bound's lower side and above zero for a full 1 MiB body of CJK
  const huge = '東'.repeat(300_000);
  assert.ok(countTextTokens(huge) <= textTokensUpperBound(huge));
});

test('cutting a long run changes the count by at most one token per cut, and never splits an emoji', () => {
  const samples = ['漢字かな交じり文'.repeat(250), 'a'.repeat(3_000), 'ab1'.repeat(1_000), '🦊'.repeat(700), `${'='.repeat(900)} end`, `start ${'\n'.repeat(800)}end`];
  for (const text of samples) {
    const whole = countTokens(text, { disallowedSpecial: new Set<string>() });
    const pieces = countTextTokens(text);
    const cuts = Math.ceil(text.length / 64);
    assert.ok(Math.abs(pieces - whole) <= cuts, `${JSON.stringify(text.slice(0, 12))}…: ${pieces} in pieces vs ${whole} whole (${cuts} cuts)`);
  }
  // 700 fox emoji are 1,400 UTF-16 units: a cut between the two halves of one would count replacement characters
  assert.ok(countTextTokens('🦊'.repeat(700)) <= countTokens('🦊'.repeat(700)) + 11);
  // shifted by one unit, every 128-unit cut would fall inside an emoji: counted in pieces that keep each
  // emoji whole, the count is exactly the tokenizer's (each emoji is 3 tokens whatever its neighbours)
  const shifted = `a${'🦊'.repeat(700)}`;
  assert.equal(countTextTokens(shifted), countTokens(shifted, { disallowedSpecial: new Set<string>() }));
});

// gpt-tokenizer's tables are ~21 MB of small objects: in the main thread's heap every major collection
// marks them (a full gc() took ~20 ms with them, ~4 ms without), stalling every request in flight.
test("counting tokens leaves the tokenizer out of the main thread's heap", async () => {
  const heapAfterCount = async (tokenizerHere: boolean) => {
    const script = `
      const { countPromptTokens } = await import(${JSON.stringify(new URL('../../src/metering/tokens.ts', import.meta.url).href)});
      const n = await countPromptTokens({ overhead: 3, texts: ['How many tokens are these words?'] });
      if (${tokenizerHere}) (await import(${JSON.stringify(new URL('../../src/metering/token-count.ts', import.meta.url).href)})).countTextTokens('x');
      globalThis.gc(); globalThis.gc();
      console.log(JSON.stringify({ n, heap: process.memoryUsage().heapUsed }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url) });
    return JSON.parse(stdout) as { n: number; heap: number };
  };
  const viaWorker = await heapAfterCount(false);
  const here = await heapAfterCount(true);
  assert.equal(viaWorker.n, 3 + countTextTokens('How many tokens are these words?'));
  const mb = (b: number) => (b / 1e6).toFixed(1);
  assert.ok(here.heap - viaWorker.heap > 12e6, `main heap ${mb(viaWorker.heap)} MB after a count, ${mb(here.heap)} MB with the tokenizer loaded here`);
});

test("the token counter's thread does not keep a process alive: started and idle, or after a count, the process exits", async () => {
  const tokens = JSON.stringify(new URL('../../src/metering/tokens.ts', import.meta.url).href);
  for (const script of [`(await import(${tokens})).startTokenCounter();`, `const t = await import(${tokens}); t.startTokenCounter(); console.log(await t.countTexts(['a few words']));`]) {
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), timeout: 30_000 });
    await assert.doesNotReject(run, `the process did not exit: ${script}`);
  }
});

test('a count in flight when the token counter stops is made in this thread, exactly; the next count starts it again', async () => {
  const texts = ['東京は日本の首都です。'.repeat(20_000), 'plain words '.repeat(20_000)];
  const exact = texts.reduce((n, t) => n + countTextTokens(t), 0);
  assert.equal(await countTexts(texts), exact);
  const inFlight = countTexts(texts);
  await stopTokenCounter();
  assert.equal(await inFlight, exact);
  assert.equal(await countTexts(['one more']), countTextTokens('one more'));
  await stopTokenCounter();
});

test('a token counter thread that dies is reported; counts go on, exactly, in this thread for a while', async () => {
  const failures: Error[] = [];
  const stopListening = startTokenCounter((e) => failures.push(e));
  try {
    assert.equal(await countTexts(['hello there']), countTextTokens('hello there'));
    const thread = tokenCounterThreadForTests();
    assert.ok(thread, 'the count ran on the thread');
    await thread.terminate();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failures.length, 1);
    assert.match(failures[0].message, /token counter exited/);
    assert.equal(await countTexts(['hello again, after the failure']), countTextTokens('hello again, after the failure'));
    assert.equal(tokenCounterThreadForTests(), null, 'not restarted at once: counted in this thread');
  } finally {
    stopListening();
    await stopTokenCounter();
  }
});
