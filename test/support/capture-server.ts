/**
 * A loopback HTTP server that records every request a client sends (method, path with query, headers, the
 * parsed body) and answers in the protocol the path asks for, so real clients (Claude Code, Codex, the
 * SDKs) run to completion against it. What the clients send is written up in docs/clients.md.
 *
 * Answers: `/v1/messages` (Anthropic Messages, SSE or JSON), `/v1/messages/count_tokens`, `/v1/responses`
 * (OpenAI Responses, SSE or JSON), `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`,
 * `GET /v1/models`; anything else is a 404 (recorded too). The same paths answer under `/api/v1`.
 * `failFirst` makes the first N model calls fail (status or a stream cut) to see how a client reacts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface CapturedRequest {
  method: string;
  /** path with the query string, as sent */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** parsed JSON body, or the raw text when it is not JSON, or null when empty */
  body: unknown;
  /** what the server did: `ok`, `status <n>`, `cut`, `404` */
  answer: string;
  /** the body asked for a stream */
  stream: boolean;
}

export type CaptureFailure = { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> } | { kind: 'cut' };

export interface CaptureServerOptions {
  /** the first N model calls (messages, responses, chat, completions) get this failure */
  failFirst?: { count: number; failure: CaptureFailure };
  /** text of every answer, default "pong" */
  text?: string;
  /**
   * Scripted Anthropic content for a `/v1/messages` call (e.g. a `tool_use` block to make Claude Code start
   * a subagent); undefined answers with the text.
   */
  reply?: (req: CapturedRequest) => AnthropicBlock[] | undefined;
  /** the same for `/v1/responses`: a function call item instead of the text */
  replyResponses?: (req: CapturedRequest) => { type: 'function_call'; call_id: string; name: string; arguments: string } | undefined;
}

export type AnthropicBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface CaptureServer {
  /** http://127.0.0.1:PORT (no path) */
  readonly origin: string;
  readonly requests: CapturedRequest[];
  close(): Promise<void>;
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export async function startCaptureServer(opts: CaptureServerOptions = {}): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const text = opts.text ?? 'pong';
  let failuresLeft = opts.failFirst?.count ?? 0;
  let counter = 0;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown = null;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const stream = b.stream === true;
    const rec: CapturedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, answer: 'ok', stream };
    requests.push(rec);
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/api\/v1\//, '/v1/').replace(/\/+$/, '');
    const model = typeof b.model === 'string' ? b.model : 'unknown';
    const id = ++counter;
    const isModelCall = ['/v1/messages', '/v1/responses', '/v1/chat/completions', '/v1/completions'].includes(path);
    if (isModelCall && failuresLeft > 0 && opts.failFirst) {
      failuresLeft--;
      const f = opts.failFirst.failure;
      if (f.kind === 'cut') {
        rec.answer = 'cut';
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(path === '/v1/messages' ? sse('message_start', messageStart(id, model)) : '');
          setTimeout(() => res.destroy(), 20);
        } else res.destroy();
        return;
      }
      rec.answer = `status ${f.status}`;
      const failBody =
        f.body ??
        (path === '/v1/messages' ? { type: 'error', error: { type: 'api_error', message: 'capture failure' } } : { error: { message: 'capture failure', type: 'server_error', code: f.status } });
      return json(res, f.status, failBody, f.headers);
    }

    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'capture-model', object: 'model', created: 0, owned_by: 'capture', type: 'model', display_name: 'Capture model' }],
        has_more: false,
        first_id: 'capture-model',
        last_id: 'capture-model',
      });
    }
    if (path === '/v1/messages/count_tokens') return json(res, 200, { input_tokens: 42 });
    if (path === '/v1/messages') {
      const usage = { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 };
      const blocks: AnthropicBlock[] = opts.reply?.(rec) ?? [{ type: 'text', text }];
      const stopReason = blocks.some((x) => x.type === 'tool_use') ? 'tool_use' : 'end_turn';
      if (!stream) {
        return json(res, 200, { id: `msg_cap${id}`, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: null, usage });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(sse('message_start', messageStart(id, model)));
      blocks.forEach((block, index) => {
        if (block.type === 'text') {
          res.write(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
          if (index === 0) res.write(sse('ping', { type: 'ping' }));
          res.write(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } }));
        } else {
          res.write(sse('content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } }));
          res.write(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } }));
        }
        res.write(sse('content_block_stop', { type: 'content_block_stop', index }));
      });
      res.write(sse('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { ...usage, output_tokens: 1 } }));
      res.write(sse('message_stop', { type: 'message_stop' }));
      res.end();
      return;
    }
    if (path === '/v1/responses') {
      const respId = `resp_cap${id}`;
      const itemId = `msg_cap${id}`;
      const created = Math.floor(Date.now() / 1000);
      const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 };
      const call = opts.replyResponses?.(rec);
      const item = call
        ? { id: `fc_cap${id}`, status: 'completed', ...call }
        : { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] };
      const full = { id: respId, object: 'response', created_at: created, status: 'completed', model, output: [item], usage, error: null, incomplete_details: null };
      if (!stream) return json(res, 200, full);
      let seq = 0;
      const ev = (type: string, data: Record<string, unknown>) => res.write(sse(type, { type, sequence_number: seq++, ...data }));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const pending = { ...full, status: 'in_progress', output: [], usage: null };
      ev('response.created', { response: pending });
      ev('response.in_progress', { response: pending });
      if (call) {
        ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } });
        ev('response.function_call_arguments.delta', { item_id: item.id, output_index: 0, delta: call.arguments });
        ev('response.function_call_arguments.done', { item_id: item.id, output_index: 0, arguments: call.arguments });
        ev('response.output_item.done', { output_index: 0, item });
        ev('response.completed', { response: full });
        res.end();
        return;
      }
      ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
      ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: text });
      ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text });
      ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text, annotations: [] } });
      ev('response.output_item.done', { output_index: 0, item });
      ev('response.completed', { response: full });
      res.end();
      return;
    }
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      const chat = path === '/v1/chat/completions';
      const usage = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 };
      const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'stop', logprobs: null };
      const object = chat ? 'chat.completion' : 'text_completion';
      if (!stream) return json(res, 200, { id: `cmpl-cap${id}`, object, created: 0, model, choices: [choice], usage });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const delta = chat ? { index: 0, delta: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'stop' };
      res.write(`data: ${JSON.stringify({ id: `cmpl-cap${id}`, object: chat ? 'chat.completion.chunk' : 'text_completion', created: 0, model, choices: [delta] })}\n\n`);
      res.write(`data: ${JSON.stringify({ id: `cmpl-cap${id}`, object: chat ? 'chat.completion.chunk' : 'text_completion', created: 0, model, choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    if (path === '/v1/embeddings') {
      const inputs = Array.isArray(b.input) ? b.input : [b.input];
      return json(res, 200, { object: 'list', model, data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] })), usage: { prompt_tokens: 3, total_tokens: 3 } });
    }
    rec.answer = '404';
    return json(res, 404, { error: { message: `Not Found: ${req.method} ${req.url}`, type: 'not_found' } });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function messageStart(id: number, model: string) {
  return {
    type: 'message_start',
    message: {
      id: `msg_cap${id}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const t = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t), ...headers });
  res.end(t);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
