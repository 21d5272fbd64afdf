/**
 * The real CLIs complete a prompt against the simulator, each in its protocol: Claude Code on Anthropic
 * Messages (every call on the pinned model, the bearer key, `?beta=true`, the non-streaming retry after a
 * cut stream), Codex CLI on Responses (no max_output_tokens, store:false, developer input items).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulatedText, startSimulator } from '../../src/catalog/simulator.js';
import { CLAUDE_BIN, CODEX_BIN, missingClient, runClaudeCode, runCodex } from '../support/clients.js';

const KEY = 'sk-arb-clienttest0000000000000000';

async function sim(t: { after: (fn: () => Promise<void>) => void }) {
  const s = await startSimulator({ chunkDelayMs: 0, completionTokens: 5, apiKey: KEY });
  t.after(() => s.close());
  return s;
}

test('Claude Code completes a prompt on Anthropic Messages, every call on the pinned model; a cut stream is retried without streaming', { skip: missingClient(CLAUDE_BIN) ?? false }, async (t) => {
  const s = await sim(t);
  const origin = s.baseUrl.replace(/\/v1$/, ''); // the simulator lives under /api, as OpenRouter does
  const model = 'anthropic/claude-sonnet-4.6';
  const r = await runClaudeCode({ baseUrl: origin, key: KEY, model, prompt: 'Say hello' });
  assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), simulatedText(5));
  assert.ok(s.requests.length >= 1);
  for (const rec of s.requests) {
    assert.equal(rec.endpoint, 'messages');
    assert.equal(rec.url, '/api/v1/messages?beta=true');
    assert.equal(rec.model, model);
    assert.equal(rec.stream, true);
    assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
    assert.equal(rec.body?.max_tokens, 32000);
    assert.equal(rec.status, 200);
  }

  s.reset();
  s.queueFault({ kind: 'cut', afterTokens: 2, endpoint: 'messages' });
  const retried = await runClaudeCode({ baseUrl: origin, key: KEY, model, prompt: 'Say hello' });
  assert.equal(retried.code, 0, `stderr: ${retried.stderr}`);
  assert.equal(retried.stdout.trim(), simulatedText(5));
  assert.deepEqual(
    s.requests.map((rec) => [rec.fault?.kind ?? 'ok', rec.stream]),
    [
      ['cut', true],
      ['ok', false],
    ],
  );
});

test('Codex CLI completes a prompt on the Responses API with a custom provider', { skip: missingClient(CODEX_BIN) ?? false }, async (t) => {
  const s = await sim(t);
  const r = await runCodex({ baseUrl: s.baseUrl, key: KEY, model: 'openai/gpt-5-codex', prompt: 'Say hello' });
  assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), simulatedText(5));
  const [rec] = s.requests;
  assert.equal(s.requests.length, 1);
  assert.equal(rec.endpoint, 'responses');
  assert.equal(rec.model, 'openai/gpt-5-codex');
  assert.equal(rec.stream, true);
  assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
  assert.equal(rec.body?.store, false);
  assert.equal(rec.body?.max_output_tokens, undefined);
  assert.ok((rec.body?.input as Array<{ role?: string }>).some((item) => item.role === 'developer'));
  assert.equal(rec.usageReported, true);
});
