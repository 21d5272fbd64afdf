/**
 * Re-captures what the real clients send (the facts in docs/clients.md) after a client upgrade:
 *
 *   npx tsx test/support/capture-clients.ts [OUT_DIR]
 *
 * Runs Claude Code (`claude -p`, plus its non-streaming retry after a cut stream), Codex CLI (`codex exec`)
 * and the Anthropic and OpenAI SDKs against the capture server, prints a summary per request (method, path,
 * auth scheme, headers, body keys, stream) and, with OUT_DIR, writes every captured request as JSON there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startCaptureServer, type CapturedRequest, type CaptureServerOptions } from './capture-server.js';
import { runClaudeCode, runCodex } from './clients.js';

const KEY = 'sk-arb-capture';
const outDir = process.argv[2];

function summary(r: CapturedRequest) {
  const body = r.body && typeof r.body === 'object' ? (r.body as Record<string, unknown>) : {};
  const auth = typeof r.headers.authorization === 'string' ? r.headers.authorization.split(' ')[0] : r.headers['x-api-key'] ? 'x-api-key' : 'none';
  return {
    request: `${r.method} ${r.url}`,
    auth,
    answer: r.answer,
    stream: r.stream,
    model: body.model,
    body_keys: Object.keys(body).sort(),
    headers: Object.keys(r.headers)
      .filter((h) => !['host', 'connection', 'content-length', 'authorization', 'x-api-key'].includes(h))
      .sort(),
    anthropic_beta: r.headers['anthropic-beta'],
    bytes: JSON.stringify(r.body ?? '').length,
  };
}

async function capture(name: string, opts: CaptureServerOptions, drive: (origin: string) => Promise<unknown>) {
  const cap = await startCaptureServer(opts);
  try {
    const result = await drive(cap.origin);
    process.stdout.write(`\n## ${name}\n${JSON.stringify({ result, requests: cap.requests.map(summary) }, null, 2)}\n`);
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, `${name}.json`), JSON.stringify(cap.requests, null, 1));
    }
  } finally {
    await cap.close();
  }
}

const model = 'pkg-model';
const brief = (r: { code: number | null; stdout: string; durationMs: number }) => ({ code: r.code, stdout: r.stdout.trim().slice(0, 200), ms: r.durationMs });

await capture('claude-code', {}, async (origin) => brief(await runClaudeCode({ baseUrl: origin, key: KEY, model, prompt: 'Say pong' })));
await capture('claude-code-cut-stream', { failFirst: { count: 1, failure: { kind: 'cut' } } }, async (origin) => brief(await runClaudeCode({ baseUrl: origin, key: KEY, model, prompt: 'Say pong' })));
await capture('codex', {}, async (origin) => brief(await runCodex({ baseUrl: `${origin}/v1`, key: KEY, model, prompt: 'Say pong' })));
await capture('anthropic-sdk', {}, async (origin) => {
  const client = new Anthropic({ baseURL: origin, apiKey: KEY, maxRetries: 0 });
  await client.messages.create({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  await client.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'hi' }] });
  return 'ok';
});
await capture('openai-sdk', {}, async (origin) => {
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: KEY, maxRetries: 0 });
  await client.responses.create({ model, input: 'hi' });
  for await (const ev of await client.responses.create({ model, input: 'hi', stream: true })) void ev;
  await client.completions.create({ model, prompt: 'hi', max_tokens: 5 });
  for await (const ch of await client.completions.create({ model, prompt: 'hi', max_tokens: 5, stream: true })) void ch;
  await client.embeddings.create({ model, input: ['a', 'b'] });
  return 'ok';
});
