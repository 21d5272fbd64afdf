/**
 * The real coding agents against the daemon, as customers set them up (the settings `arb demo` prints:
 * src/client-settings.ts), the daemon in front of the OpenRouter simulator: Claude Code 2.1 on Anthropic
 * Messages (bearer key, base URL without /v1, `?beta=true`, max_tokens 32000, its ~90 KB first call, the
 * non-streaming retry after a cut stream) and Codex CLI on Responses (no max_output_tokens, developer
 * items, a web_search tool that must not reach the upstream). Every call is charged what was served.
 * Skipped with the reason where a CLI is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulatedText } from '../../src/catalog/simulator.js';
import { meteringRule, weighTokenClasses, type MeteringRule } from '../../src/pricing.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { CLAUDE_BIN, CODEX_BIN, missingClient, runClaudeCode, runCodex } from '../support/clients.js';
import { allocation, startStack, usageEvents, type Stack } from './harness.js';
import { assertBooksBalance } from './books.js';

async function chargedAsServed(stack: Stack, allocationId: number, rule: MeteringRule) {
  const events = await assertBooksBalance(stack, allocationId);
  const byRequest = new Map(stack.sim.requests.map((r) => [String(r.headers['x-request-id']), r]));
  assert.equal(events.length, stack.sim.requests.length, 'one usage event per forwarded call');
  for (const e of events) {
    const rec = byRequest.get(e.request_id)!;
    const served = rec.status === 200 ? weighTokenClasses(rule, rec.tokens) : 0;
    if (e.estimated) assert.ok(e.weighted_tokens >= served, `${e.outcome}: ${e.weighted_tokens} < ${served}`);
    else assert.equal(e.weighted_tokens, served, `${e.outcome}`);
  }
  return events;
}

test(
  'Claude Code through the daemon: every call on the package model, max_tokens capped to the key, charged what was served; a cut stream is retried and both are settled',
  { skip: missingClient(CLAUDE_BIN) ?? false },
  async (t) => {
    const model = 'anthropic/claude-sonnet-4.6';
    // 150,000 tokens: Claude Code's max_tokens 32000 at output weight 5 (160,000) cannot be paid for
    const stack = await startStack(t, { model, tokens: 150_000, sim: { chunkDelayMs: 0, completionTokens: 5 } });
    const { key, allocationId } = await stack.buyKey();
    const rule = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });

    const r = await runClaudeCode({ baseUrl: stack.daemon.url, key, model, prompt: 'Say hello', timeoutMs: 60_000 });
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout.trim(), simulatedText(5));
    assert.ok(stack.sim.requests.length >= 1);
    for (const rec of stack.sim.requests) {
      assert.equal(rec.endpoint, 'messages');
      assert.equal(rec.model, model);
      assert.equal(rec.stream, true);
      assert.ok(rec.maxTokens! < 32000 && rec.maxTokens! > 10_000, `max_tokens ${rec.maxTokens}`);
      assert.ok(!('metadata' in (rec.body ?? {})) || typeof (rec.body!.metadata as { user_id?: unknown }).user_id === 'string', 'metadata.user_id passes');
      assert.ok(rec.body?.thinking, 'thinking passes');
      assert.ok(rec.body?.context_management, 'context_management passes');
    }
    let events = await chargedAsServed(stack, allocationId, rule);
    assert.ok(events.every((e) => e.outcome === 'ok'));

    // a cut stream: Claude Code retries once without streaming; both calls are settled
    stack.sim.reset();
    stack.sim.queueFault({ kind: 'cut', afterTokens: 2, endpoint: 'messages' });
    const retried = await runClaudeCode({ baseUrl: stack.daemon.url, key, model, prompt: 'Say hello', timeoutMs: 60_000 });
    assert.equal(retried.code, 0, `stderr: ${retried.stderr}`);
    assert.equal(retried.stdout.trim(), simulatedText(5));
    assert.deepEqual(
      stack.sim.requests.map((rec) => [rec.fault?.kind ?? 'ok', rec.stream]),
      [
        ['cut', true],
        ['ok', false],
      ],
    );
    events = (await usageEvents(stack.handle, allocationId)).slice(-2);
    assert.deepEqual(
      events.map((e) => [e.outcome, e.stream]),
      [
        ['upstream_cut', 1],
        ['ok', 0],
      ],
    );
    const a = await allocation(stack.handle, allocationId);
    assert.ok(a.tokens_used <= a.tokens_total);
    assert.deepEqual((await auditLedger(stack.handle)).problems, []);
  },
);

test('Codex CLI through the daemon: Responses without max_output_tokens, its web_search tool left out, charged what was served', { skip: missingClient(CODEX_BIN) ?? false }, async (t) => {
  const model = 'openai/gpt-5-codex';
  const stack = await startStack(t, { model, tokens: 500_000, sim: { chunkDelayMs: 0, completionTokens: 5 } });
  const { key, allocationId } = await stack.buyKey();
  const r = await runCodex({ baseUrl: stack.baseURL, key, model, prompt: 'Say hello', timeoutMs: 60_000 });
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), simulatedText(5));
  const [rec] = stack.sim.requests;
  assert.equal(rec.endpoint, 'responses');
  assert.equal(rec.model, model);
  assert.ok(rec.maxTokens! > 0, 'a cap was set from the quota');
  assert.equal(rec.body?.store, false);
  assert.ok((rec.body?.input as Array<{ role?: string }>).some((item) => item.role === 'developer'));
  const tools = (rec.body?.tools as Array<{ type: string }>).map((x) => x.type);
  assert.ok(!tools.includes('web_search'), 'the hosted web_search tool was left out');
  assert.ok(tools.includes('function'));
  assert.equal(rec.webSearches, 0);
  await chargedAsServed(stack, allocationId, meteringRule(1_250_000, 10_000_000, { cacheReadRate: 125_000 }));
});
