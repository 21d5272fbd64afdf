/**
 * Local token counting (gpt-tokenizer, o200k_base), for every protocol: a request's prompt is given as a
 * `PromptText` (a fixed overhead of tokens plus the texts whose tokens count, as the protocol adapter reads
 * them from the body), and counted two ways:
 * - `promptUpperBound`: no tokenizer, microseconds — every token is at least one UTF-8 byte. It sizes most
 *   holds (see hold.ts).
 * - `countPromptTokens` / `countTexts`: the tokenizer, for holds near the end of a quota and for estimated
 *   charges (no usage came); linear, bounded per request and sliced (token-count.ts).
 *
 * The tokenizer runs in a worker thread of its own, started on the first count. Its tables are ~21 MB of
 * small objects: in the main thread's heap, every major garbage collection marked them, and that pause
 * (~20 ms against ~4 ms without them, measured with gc() alone) stalled every request in flight, whether
 * it counted tokens or not. The worker also keeps the counting itself off the event loop. If the worker
 * cannot run, a count is made in this thread (the same code, the same result).
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../support/worker-script.js';

/** A prompt as the protocol counts it: `overhead` tokens plus the tokens of each text. */
export interface PromptText {
  overhead: number;
  texts: string[];
}

/** Tokenizer work per request by default (see token-count.ts); what it does not reach is counted by the byte bound. */
export const EXACT_BUDGET = 2_000_000;

/** An upper bound of a text's tokens without the tokenizer: every token is at least one byte. */
export function textTokensUpperBound(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** An upper bound of the prompt's tokens, in microseconds. */
export function promptUpperBound(prompt: PromptText): number {
  let n = prompt.overhead;
  for (const t of prompt.texts) n += textTokensUpperBound(t);
  return n;
}

/**
 * The prompt's tokens by the tokenizer: exact within the work `budget`, the byte bound for the rest (see
 * token-count.ts).
 */
export async function countPromptTokens(prompt: PromptText, budget = EXACT_BUDGET): Promise<number> {
  return prompt.overhead + (await countTexts(prompt.texts, budget));
}

/** Tokens of several texts (see countPromptTokens), counted in the token counter's thread. */
export async function countTexts(texts: readonly string[], budget = EXACT_BUDGET): Promise<number> {
  const counter = tokenCounter();
  if (counter) {
    try {
      return await counter.count(texts, budget);
    } catch {
      // the worker died or could not start: counted here below
    }
  }
  const { countTexts: countHere } = await import('./token-count.js');
  return countHere(texts, budget);
}

/**
 * Starts the token counter's thread now, so that the first count does not wait for it (the daemon), and
 * calls `onFailure` whenever the thread fails (counts are then made in this thread for a while). Returns
 * what stops calling it.
 */
export function startTokenCounter(onFailure?: (e: Error) => void): () => void {
  if (onFailure) failureListeners.add(onFailure);
  tokenCounter();
  return () => {
    if (onFailure) failureListeners.delete(onFailure);
  };
}

/** Stops the token counter's thread (counts in flight are then made in this thread); the next count starts it again. */
export async function stopTokenCounter(): Promise<void> {
  const c = current;
  current = null;
  failedAt = -Infinity;
  await c?.stop();
}

/** The token counter's thread, if it runs (for tests: terminating it is how it fails). */
export function tokenCounterThreadForTests(): Worker | null {
  return current?.worker ?? null;
}

interface TokenCounter {
  worker: Worker;
  count(texts: readonly string[], budget: number): Promise<number>;
  stop(): Promise<void>;
}

/** How long stopTokenCounter waits for the thread to end. */
const STOP_WAIT_MS = 1_000;

/** After the worker failed, counts are made in this thread for this long before it is started again. */
const RETRY_AFTER_MS = 60_000;

let current: TokenCounter | null = null;
let failedAt = -Infinity;
const failureListeners = new Set<(e: Error) => void>();

function failed(e: Error): void {
  failedAt = performance.now();
  for (const listener of failureListeners) listener(e);
}

function tokenCounter(): TokenCounter | null {
  if (current) return current;
  if (performance.now() - failedAt < RETRY_AFTER_MS) return null;
  const where = workerScript(import.meta.url, 'token-worker');
  if (!where) return null;
  try {
    current = startCounter(new Worker(where.script, { eval: where.eval, name: 'arb token counter' }));
  } catch (e) {
    failed(e as Error);
  }
  return current;
}

function startCounter(worker: Worker): TokenCounter {
  const pending = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | null = null;
  // the thread keeps the process alive only while a count is waiting for it (unref'd again once online:
  // from the TypeScript sources, an unref before then did not hold and the process never exited)
  worker.unref();
  worker.once('online', () => {
    if (pending.size === 0) worker.unref();
  });
  const self: TokenCounter = {
    worker,
    count(texts, budget) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        if (pending.size === 0) worker.ref();
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, texts, budget });
      });
    },
    async stop() {
      // at most a second: a thread stopped while it starts may never report its exit (seen as arb daemon
      // ending in the middle of such an await, exit 13, when it awaited this as its last step); the timer
      // keeps the process alive meanwhile
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([worker.terminate(), new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
  const settle = (id: number) => {
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    return p;
  };
  worker.on('message', (m: { id: number; tokens?: number; error?: string }) => {
    const p = settle(m.id);
    if (m.tokens !== undefined) p?.resolve(m.tokens);
    else p?.reject(new Error(m.error ?? 'token count failed'));
  });
  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    for (const id of [...pending.keys()]) settle(id)?.reject(e);
    if (current === self) {
      current = null;
      failed(e);
    }
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`token counter exited with code ${code}`)));
  return self;
}
