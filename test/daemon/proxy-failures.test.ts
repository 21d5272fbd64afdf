/**
 * The money guarantees of the chat path hold on every protocol's stream (Messages with @anthropic-ai/sdk,
 * Responses and legacy Completions with openai): an upstream failure before any output costs nothing and
 * is answered in the protocol's shape; a cut stream ends with the protocol's error event and is charged
 * what was delivered; a client that goes away aborts the upstream and pays for what it was sent; a
 * shutdown cuts the stream with its own error event and charges what was delivered. Every case leaves no
 * hold and a clean audit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { simulatedText } from '../../src/catalog/simulator.js';
import { meteringRule, weighTokenClasses } from '../../src/pricing.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { allocation, startStack, usageEvents, type Stack } from './harness.js';
import { assertBooksBalance } from './books.js';

const SONNET = 'anthropic/claude-sonnet-4.6';
const sonnet = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });

interface Run {
  text: string;
  error: unknown;
}

/** Streams one answer in a protocol with its official client; `onDelta(n)` runs after the n-th text delta. */
type Driver = (stack: Stack, key: string, opts: { signal?: AbortSignal; onDelta?: (n: number) => void }) => Promise<Run>;

const DRIVERS: Record<string, Driver> = {
  messages: async (stack, key, { signal, onDelta }) => {
    const client = new Anthropic({ baseURL: stack.daemon.url, apiKey: key, maxRetries: 0 });
    let text = '';
    let n = 0;
    try {
      const s = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1000, messages: [{ role: 'user', content: 'Say hello' }], stream: true }, { signal });
      for await (const e of s) {
        if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') {
          text += e.delta.text;
          onDelta?.(++n);
        }
      }
      return { text, error: undefined };
    } catch (error) {
      return { text, error };
    }
  },
  responses: async (stack, key, { signal, onDelta }) => {
    let text = '';
    let n = 0;
    try {
      const s = await stack.client(key).responses.create({ model: SONNET, input: 'Say hello', stream: true }, { signal });
      for await (const e of s) {
        if (e.type === 'response.output_text.delta') {
          text += e.delta;
          onDelta?.(++n);
        }
      }
      return { text, error: undefined };
    } catch (error) {
      return { text, error };
    }
  },
  completions: async (stack, key, { signal, onDelta }) => {
    let text = '';
    let n = 0;
    try {
      const s = await stack.client(key).completions.create({ model: SONNET, prompt: 'Say hello', max_tokens: 1000, stream: true }, { signal });
      for await (const c of s) {
        const d = c.choices[0]?.text ?? '';
        if (d) {
          text += d;
          onDelta?.(++n);
        }
      }
      return { text, error: undefined };
    } catch (error) {
      return { text, error };
    }
  },
};

const isApiError = (e: unknown) => e instanceof OpenAI.APIError || e instanceof Anthropic.APIError;

for (const [protocol, drive] of Object.entries(DRIVERS)) {
  test(`${protocol}: an error before output costs nothing; a cut stream ends with the protocol's error and is charged what was delivered; a client gone pays for what it was sent`, async (t) => {
    const stack = await startStack(t, { model: SONNET, tokens: 500_000, sim: { chunkDelayMs: 4, completionTokens: 300 } });
    const { key, allocationId } = await stack.buyKey();
    const endpoint = protocol as 'messages' | 'responses' | 'completions';

    stack.sim.queueFault({ kind: 'status', status: 500, endpoint });
    const failed = await drive(stack, key, {});
    assert.ok(isApiError(failed.error) && (failed.error as { status?: number }).status === 502, String(failed.error));
    assert.equal(failed.text, '');

    stack.sim.queueFault({ kind: 'cut', afterTokens: 7, endpoint });
    const cut = await drive(stack, key, {});
    assert.equal(cut.text, simulatedText(7));
    assert.ok(isApiError(cut.error), `the cut reaches the client as an error: ${String(cut.error)}`);
    assert.match(String((cut.error as Error).message), /connection was lost mid-stream/);
    const cutRec = stack.sim.requests.at(-1)!;

    const controller = new AbortController();
    const gone = await drive(stack, key, { signal: controller.signal, onDelta: (n) => n === 10 && controller.abort() });
    assert.ok(gone.text.length < simulatedText(300).length, 'the client stopped reading');
    await stack.sim.idle();
    const goneRec = stack.sim.requests.at(-1)!;
    assert.equal(goneRec.aborted, true, 'the upstream request was aborted');
    assert.ok(goneRec.completionTokensSent < 300);

    const events = await assertBooksBalance(stack, allocationId);
    assert.deepEqual(
      events.map((e) => [e.outcome, e.status_code]),
      [
        ['upstream_error', 502],
        ['upstream_cut', 200],
        ['client_abort', 200],
      ],
    );
    assert.equal(events[0].weighted_tokens, 0);
    const cutServed = weighTokenClasses(sonnet, cutRec.tokens);
    if (protocol === 'responses') assert.ok(events[1].weighted_tokens >= cutServed && events[1].weighted_tokens <= cutServed + 12, `${events[1].weighted_tokens} vs ${cutServed}`);
    else assert.equal(events[1].weighted_tokens, cutServed);
    // what passed through the proxy: at least what the client read, at most what the upstream sent
    const goneEv = events[2];
    assert.equal(goneEv.estimated, 1);
    assert.ok(goneEv.completion_tokens >= 10 && goneEv.completion_tokens <= goneRec.completionTokensSent, `${goneEv.completion_tokens} vs ${goneRec.completionTokensSent}`);
    assert.ok(goneEv.weighted_tokens <= weighTokenClasses(sonnet, goneRec.tokens) + 12);
  });

  test(`${protocol}: a shutdown cuts the stream with its error event and charges what was delivered`, async (t) => {
    const stack = await startStack(t, { model: SONNET, tokens: 500_000, sim: { chunkDelayMs: 5, completionTokens: 2000 }, daemon: { drainTimeoutMs: 150 } });
    const { key, allocationId } = await stack.buyKey();
    let stopping: Promise<void> | undefined;
    const run = await drive(stack, key, {
      onDelta: (n) => {
        if (n === 3) stopping ??= stack.daemon.stop();
      },
    });
    await stopping;
    assert.ok(isApiError(run.error), `the client is told: ${String(run.error)}`);
    assert.match(String((run.error as Error).message), /shutting down/);
    const [ev] = await usageEvents(stack.handle, allocationId);
    assert.equal(ev.outcome, 'shutdown');
    assert.ok(ev.completion_tokens >= 3 && ev.completion_tokens < 2000);
    const a = await allocation(stack.handle, allocationId);
    assert.equal(a.tokens_reserved, 0);
    assert.equal(a.tokens_used, ev.weighted_tokens);
    assert.deepEqual((await auditLedger(stack.handle)).problems, []);
  });
}
