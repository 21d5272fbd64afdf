/**
 * "The upstream body is ours" (METERING.md §7) and "customers never see our wholesale cost": what the daemon
 * forwards is built from the protocol's allow-list (OpenRouter's routing and billing fields refused by name,
 * model suffixes refused, unknown fields and per-use server tools left out, the model the package's exactly);
 * what comes back loses `usage.cost`, `cost_details` and `provider`; an upstream that answers with a dearer
 * model is caught by its model and its cost. Over real sockets: client → daemon → relay → simulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simulatedText } from '../../src/catalog/simulator.js';
import { allocation, HELLO, openReservations, startStack, usageEvents } from './harness.js';
import { startRelay, type Relay } from './proxy-support.js';

async function stackWithRelay(t: Parameters<typeof startStack>[0], rewrite?: (text: string, path: string) => string) {
  let relay: Relay | undefined;
  const stack = await startStack(t, { wrapUpstream: async (sim) => (relay = await startRelay(t, sim, { rewrite })).baseUrl });
  return { stack, relay: relay! };
}

const post = (url: string, key: string, body: unknown) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('routing and billing fields are refused by name, suffixes too; unknown fields and server tools never reach the upstream', async (t) => {
  const { stack, relay } = await stackWithRelay(t);
  const { key, allocationId } = await stack.buyKey();
  const url = `${stack.baseURL}/chat/completions`;
  const refused: Array<[string, unknown]> = [
    ['models', ['openai/gpt-4', 'openai/o1-pro']],
    ['route', 'fallback'],
    ['provider', { order: ['OpenAI'], allow_fallbacks: true }],
    ['plugins', [{ id: 'web', max_results: 5 }]],
    ['transforms', ['middle-out']],
    ['web_search_options', { search_context_size: 'high' }],
  ];
  for (const [field, value] of refused) {
    const r = await post(url, key, { model: 'gpt-4', messages: HELLO, [field]: value });
    assert.equal(r.status, 400, field);
    const { error } = (await r.json()) as { error: { message: string; code: string; param: string; type: string } };
    assert.equal(error.param, field);
    assert.equal(error.code, 'unsupported_parameter');
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.message, new RegExp(`^${field}: not allowed here`));
  }
  const online = await stack
    .client(key)
    .chat.completions.create({ model: 'openai/gpt-4:online', messages: HELLO })
    .catch((e: unknown) => e);
  assert.ok(online instanceof OpenAI.BadRequestError, String(online));
  assert.equal(online.param, 'model');
  assert.match(online.message, /suffix ":online" selects OpenRouter routing or paid features.*use "openai\/gpt-4"/);
  assert.equal(relay.forwarded.length, 0, 'nothing refused was forwarded');
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);

  // accepted: the body is rebuilt from the allow-list
  const ok = await post(url, key, {
    model: 'GPT-4',
    messages: HELLO,
    max_completion_tokens: 12,
    temperature: 0.5,
    usage: { include: true },
    some_future_field: 1,
    provider: null,
    tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }, { type: 'web_search_preview' }],
    stream: true,
  });
  assert.equal(ok.status, 200);
  await ok.text();
  await stack.daemon.idle();
  const sent = relay.forwarded.at(-1)!;
  assert.equal(sent.path, '/chat/completions');
  assert.equal(sent.body.model, 'openai/gpt-4', 'the model is the package model exactly');
  assert.equal(sent.body.max_tokens, 12);
  assert.equal(sent.body.max_completion_tokens, undefined);
  assert.equal(sent.body.temperature, 0.5);
  assert.deepEqual(sent.body.stream_options, { include_usage: true });
  for (const f of ['usage', 'some_future_field', 'provider']) assert.ok(!(f in sent.body), `${f} was forwarded`);
  assert.deepEqual(
    (sent.body.tools as Array<{ type: string }>).map((x) => x.type),
    ['function'],
    'the per-use web search tool was left out',
  );
  const line = stack.logs.lines().find((l) => l.api_call === true && l.status === 200)!;
  assert.deepEqual(line.dropped_fields, ['usage', 'some_future_field', 'provider', 'tools[1]:web_search_preview']);
});

test('customers never see the wholesale cost: usage.cost, cost_details and provider are cut from bodies and streams; rate-limit and quota headers', async (t) => {
  // the upstream also reports OpenRouter's cost_details (the simulator sends usage.cost and provider)
  const withDetails = (text: string) => text.replace(/"cost":([0-9.e-]+)/g, '"cost":$1,"cost_details":{"upstream_inference_cost":$1,"upstream_inference_prompt_cost":0}');
  const { stack } = await stackWithRelay(t, withDetails);
  const { key, allocationId } = await stack.buyKey();
  const r = await post(`${stack.baseURL}/chat/completions`, key, { model: 'gpt-4', messages: HELLO, max_tokens: 7 });
  assert.equal(r.status, 200);
  const text = await r.text();
  for (const leak of ['"cost"', '"cost_details"', '"provider"', 'upstream_inference']) assert.ok(!text.includes(leak), `${leak} reached the customer: ${text}`);
  const body = JSON.parse(text) as { usage: Record<string, unknown>; choices: Array<{ message: { content: string } }> };
  assert.equal(body.choices[0].message.content, simulatedText(7));
  assert.equal(body.usage.completion_tokens, 7);
  assert.equal(r.headers.get('x-ratelimit-limit-requests'), '100000');
  assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '99999');
  await stack.daemon.idle();
  const a = await allocation(stack.handle, allocationId);
  assert.equal(Number(r.headers.get('x-arb-tokens-remaining')), a.tokens_total - a.tokens_used);

  const s = await post(`${stack.baseURL}/chat/completions`, key, { model: 'gpt-4', messages: HELLO, max_tokens: 9, stream: true });
  assert.equal(s.status, 200);
  assert.equal(s.headers.get('x-ratelimit-remaining-requests'), '99998');
  assert.ok(Number(s.headers.get('x-arb-tokens-remaining')) < a.tokens_total - a.tokens_used, 'a stream shows what is left while it holds its share');
  const stream = await s.text();
  for (const leak of ['"cost"', '"cost_details"', '"provider"']) assert.ok(!stream.includes(leak), `${leak} reached the customer`);
  const events = stream.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]');
  const chunks = events.map((e) => JSON.parse(e.slice(6)) as { usage?: { completion_tokens: number }; choices: Array<{ delta?: { content?: string } }> });
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), simulatedText(9));
  assert.equal(chunks.at(-1)!.usage!.completion_tokens, 9);
  assert.ok(stream.endsWith('data: [DONE]\n\n'));
  // the charge still knows the upstream cost
  await stack.daemon.idle();
  const events2 = await usageEvents(stack.handle, allocationId);
  assert.ok(events2.every((e) => e.upstream_cost > 0));
});

test('an upstream answering with a dearer model: the model mismatch and the cost above the basis are security events, the difference operator loss', async (t) => {
  // as OpenRouter answers a fallback: another model, and its (20× dearer) cost
  const fallback = (text: string) => text.replace(/"model":"openai\/gpt-4"/g, '"model":"openai/gpt-4-32k-0613"').replace(/"cost":([0-9.e-]+)/g, (_m, c: string) => `"cost":${Number(c) * 20}`);
  const { stack } = await stackWithRelay(t, fallback);
  const { key, allocationId } = await stack.buyKey();
  for (const stream of [false, true]) {
    const r = await post(`${stack.baseURL}/chat/completions`, key, { model: 'gpt-4', messages: HELLO, max_tokens: 10, stream });
    assert.equal(r.status, 200);
    await r.text();
  }
  await stack.daemon.idle();
  const events = await usageEvents(stack.handle, allocationId);
  assert.equal(events.length, 2);
  const sec = stack.logs.lines().filter((l) => l.security_event === true);
  assert.equal(sec.filter((l) => l.event === 'answered_model_mismatch').length, 2);
  const costs = sec.filter((l) => l.event === 'upstream_cost_above_basis');
  assert.equal(costs.length, 2);
  for (const [i, e] of events.entries()) {
    const basis = Math.ceil((e.weighted_tokens * 30_000_000) / 1_000_000);
    assert.equal(costs[i].cost_basis_micros, basis);
    assert.equal(costs[i].cost_loss_micros, e.upstream_cost - basis);
    assert.ok(e.upstream_cost > 15 * basis);
    // recorded on the usage event: operator loss, beside the model that answered
    assert.equal(e.cost_loss, e.upstream_cost - basis);
    assert.equal(e.answered_model, 'openai/gpt-4-32k-0613');
  }
  assert.equal(await openReservations(stack.handle), 0);
});

test('JSON nested beyond the depth limit is a 400 naming the fix: no stack overflow, no 502, no ERROR line', async (t) => {
  const stack = await startStack(t);
  const { key } = await stack.buyKey();
  const deep = `{"model":"gpt-4","messages":[{"role":"user","content":"hi","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`;
  assert.ok(deep.length < 1024 * 1024);
  const r = await fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: deep });
  assert.equal(r.status, 400);
  const { error } = (await r.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'json_too_deep');
  assert.match(error.message, /more than 100 levels deep/);
  // the same depth as an Anthropic request: Anthropic's error shape
  const m = await fetch(`${stack.daemon.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: deep });
  assert.equal(m.status, 400);
  const mb = (await m.json()) as { type: string; error: { type: string } };
  assert.equal(mb.type, 'error');
  assert.equal(mb.error.type, 'invalid_request_error');
  assert.equal(stack.sim.requests.length, 0);
  assert.ok(!stack.logs.lines().some((l) => l.level === 'ERROR' || l.level === 'CRITICAL'), 'an ERROR line was logged');
});

test('a one-hour cache TTL never reaches the upstream (its writes cost 2× input, the package charges the 5-minute rate); 5m and the breakpoint itself pass', async (t) => {
  const model = 'anthropic/claude-sonnet-4.6';
  let relay: Relay | undefined;
  const stack = await startStack(t, { model, wrapUpstream: async (sim) => (relay = await startRelay(t, sim)).baseUrl });
  const { key } = await stack.buyKey();
  const hour = { type: 'ephemeral', ttl: '1h' };
  const m = await fetch(`${stack.daemon.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-sonnet-4.6',
      max_tokens: 8,
      system: [{ type: 'text', text: 'You are terse.', cache_control: hour }],
      tools: [{ name: 'lookup', input_schema: { type: 'object' }, cache_control: hour }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral', ttl: '5m' } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'found', cache_control: hour }] }] },
      ],
    }),
  });
  assert.equal(m.status, 200, await m.clone().text());
  await m.text();
  const c = await post(`${stack.baseURL}/chat/completions`, key, {
    model: 'claude-sonnet-4.6',
    max_tokens: 8,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral', ttl: '1h' } }] }],
  });
  assert.equal(c.status, 200);
  await c.text();
  await stack.daemon.idle();
  const [sentM, sentC] = relay!.forwarded;
  const text = JSON.stringify(sentM.body);
  assert.ok(!text.includes('"1h"'), `a one-hour TTL was forwarded: ${text}`);
  assert.deepEqual((sentM.body.system as Array<{ cache_control: unknown }>)[0].cache_control, { type: 'ephemeral' });
  assert.deepEqual((sentM.body.tools as Array<{ cache_control: unknown }>)[0].cache_control, { type: 'ephemeral' });
  const msgs = sentM.body.messages as Array<{ content: Array<{ cache_control?: unknown; content?: Array<{ cache_control: unknown }> }> }>;
  assert.deepEqual(msgs[0].content[0].cache_control, { type: 'ephemeral', ttl: '5m' }, 'the five-minute TTL passes as sent');
  assert.deepEqual(msgs[2].content[0].content![0].cache_control, { type: 'ephemeral' });
  assert.ok(!JSON.stringify(sentC.body).includes('"1h"'));
  const lines = stack.logs.lines().filter((l) => l.api_call === true && l.status === 200);
  assert.equal(lines.length, 2);
  for (const l of lines) assert.ok((l.dropped_fields as string[]).includes('cache_control.ttl'), JSON.stringify(l.dropped_fields));
});

test('Responses: background runs and state kept upstream (previous_response_id, conversation, stored prompts) are refused by name; nothing reaches the upstream', async (t) => {
  const { stack, relay } = await stackWithRelay(t);
  const { key, allocationId } = await stack.buyKey();
  const refused: Array<[string, unknown, RegExp]> = [
    ['background', true, /usage after the request ends/],
    ['previous_response_id', 'resp_0123456789abcdef', /send the conversation in input/],
    ['conversation', { id: 'conv_0123' }, /send the conversation in input/],
    ['prompt', { id: 'pmpt_0123', version: '2' }, /operator's upstream account/],
  ];
  for (const [field, value, why] of refused) {
    const r = await post(`${stack.baseURL}/responses`, key, { model: 'gpt-4', input: 'hi', [field]: value });
    assert.equal(r.status, 400, field);
    const { error } = (await r.json()) as { error: { message: string; code: string; param: string } };
    assert.equal(error.param, field);
    assert.equal(error.code, 'unsupported_parameter');
    assert.match(error.message, new RegExp(`^${field}: not allowed here`));
    assert.match(error.message, why);
  }
  assert.equal(relay.forwarded.length, 0);
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);
  // the same fields as null or false are absent values: the request goes through without them
  const ok = await post(`${stack.baseURL}/responses`, key, { model: 'gpt-4', input: 'hi', max_output_tokens: 5, background: false, previous_response_id: null });
  assert.equal(ok.status, 200);
  await ok.text();
  await stack.daemon.idle();
  const sent = relay.forwarded.at(-1)!;
  assert.ok(!('background' in sent.body) && !('previous_response_id' in sent.body));
});

test('a chat reasoning budget stays below the granted output cap: lowered to cap − 1, left out below the 1,024 minimum, kept when it fits', async (t) => {
  const { stack, relay } = await stackWithRelay(t);
  const { key } = await stack.buyKey();
  const cases: Array<[number, Record<string, unknown>, Record<string, unknown>]> = [
    [2_000, { max_tokens: 50_000, exclude: true }, { max_tokens: 1_999, exclude: true }],
    [500, { max_tokens: 50_000 }, {}],
    [4_000, { max_tokens: 1_500 }, { max_tokens: 1_500 }],
    [4_000, { effort: 'high' }, { effort: 'high' }],
  ];
  for (const [cap, reasoning] of cases) {
    const r = await post(`${stack.baseURL}/chat/completions`, key, { model: 'gpt-4', messages: HELLO, max_tokens: cap, reasoning });
    assert.equal(r.status, 200);
    await r.text();
  }
  await stack.daemon.idle();
  assert.deepEqual(
    relay.forwarded.map((f) => [f.body.max_tokens, f.body.reasoning]),
    cases.map(([cap, , sent]) => [cap, sent]),
  );
});
