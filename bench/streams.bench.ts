/**
 * `npm run bench streams`: many long streams (issue 15.1). N concurrent streaming chat completions of 100
 * tokens spaced 200 ms apart (~20 s each), opened over a few seconds, first through a bare pass-through
 * proxy, then through arb — the simulator, the bare proxy and arb each in its own process, this one the
 * clients. Every stream must arrive intact (100 content deltas, the usage chunk, [DONE]) and, through arb,
 * be billed exactly (one usage event each, tokens used = Σ prompt + 2 × completion for openai/gpt-4).
 *
 * Printed for both, and arb over bare (goals: CPU ≤ 1.3×, memory per open stream ≤ 1.3×, TTFB p50 within
 * 5 ms of bare's, p99 of the largest gap between chunks within 25 ms of bare's):
 *   - CPU time of the serving process from the first stream opened to the last closed;
 *   - memory per open stream: (RSS with all streams open − RSS before) / N, after a full GC each time;
 *     also the V8 heap (+ external buffers) the same way, and the active handles and timers per stream;
 *   - time to first byte p50/p99 and the p99 over streams of each stream's largest gap between chunks;
 *     a gap that spans the memory measurement (the bench stopping the server for two full collections
 *     with every stream open) is left out and printed apart, with how long the collections took.
 * And, to read the timings by: how many of the 2 cores the serving process, the simulator and the clients
 * kept busy; the serving process's event loop delay while the streams were being opened and after; the
 * longest accept queue of its listening socket (Node takes one new connection per turn of its event loop,
 * so at hundreds of new connections a second the time to first byte is mostly time spent in that queue).
 *
 *   npm run bench -- streams                  (2,000 streams)
 *   npm run bench -- streams BENCH_STREAMS=10000   the big run (needs ~21,000 open files per process:
 *                                             the bench raises its limit with ulimit -n when allowed)
 *   BENCH_RAMP_S (default 5): the streams are opened evenly over this many seconds
 *   BENCH_ROUNDS (default 3): rounds of one bare phase and one arb phase, each on a fresh process, the order
 *                             alternating; each round's ratios are printed and the verdict is on their median
 *                             (on a shared 2-core machine one pair swings by tens of percent)
 *   BENCH_ORDER=arb-first: arb's streams before the bare proxy's in the first round (default: the bare proxy first)
 *   BENCH_PROFILE=DIR: CPU profiles of arb's process (DIR/arb) and of the bare proxy's (DIR/bare), to compare
 *   BENCH_PROMPT_KB: the prompt's size in KB (default a sentence); a coding agent sends hundreds of KB with every call
 *   BENCH_KEEP=1: arb's database and log are kept (the bench prints where): why a stream failed is in its api_call line
 *   BENCH_HEAP=1: also a heap snapshot of arb and of bare with every stream open, and the objects that
 *   grow per stream (by constructor, count and bytes per stream) — what arb keeps that bare does not
 *
 * The machine's load is printed before and after: on a shared machine the timings are noise (the CPU and
 * memory per stream are the steadier figures).
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSnapshot } from 'node:v8';
import { Agent, request } from 'undici';
import { announce, machineLoad, middle, percentile, seedFreeKeys, startBareProxy, startRole } from './support/harness.js';

const SELF = fileURLToPath(import.meta.url);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 2000);
const RAMP_S = Number(process.env.BENCH_RAMP_S ?? 5);
const TOKENS = 100;
const SPACING_MS = 200;
const HEAP = process.env.BENCH_HEAP === '1';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

/** BENCH_PROMPT_KB: the prompt's size (default: one short sentence); a coding agent's runs to hundreds of KB */
const PROMPT_KB = Number(process.env.BENCH_PROMPT_KB ?? 0);
const PROMPT = PROMPT_KB > 0 ? 'Tell me a long story. '.repeat(Math.ceil((PROMPT_KB * 1024) / 22)).slice(0, PROMPT_KB * 1024) : 'Tell me a long story.';
const BODY = (model: string, tokens = TOKENS) => JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, max_tokens: tokens, messages: [{ role: 'user', content: PROMPT }] });
/**
 * Before each measurement, short streams (3 tokens) through the server, 40 at a time: a daemon in
 * production runs warm, and one stream leaves most of arb's request path (auth, hold, relay, settle, log)
 * to be compiled during the measured opening, where it lengthened the turns and the accept queue.
 */
const WARM_STREAMS = Number(process.env.BENCH_WARM ?? 400);
const WARM_TOKENS = 3;

// ---------------------------------------------------------------- what every serving role answers over IPC

type Probe = 'cpu' | 'mem' | 'handles' | 'heap' | 'billing';

/** A process's CPU time so far and its event loop's delay (ms) since the last such look. */
type CpuLook = NodeJS.CpuUsage & { loop: { p50: number; p99: number; max: number }; gc: GcPauses };
/** The garbage collector's pauses of the main thread since the last look: all of them, and the full (mark-compact) ones. */
interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
  fullCount: number;
  fullMaxMs: number;
}
const noPauses = (): GcPauses => ({ count: 0, totalMs: 0, maxMs: 0, fullCount: 0, fullMaxMs: 0 });
const cpuMsBetween = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user + b.system - a.user - a.system) / 1000;

/** Answers the parent's probes: CPU time, memory after a full GC, active resources, a heap summary. */
function answerProbes(extra: Partial<Record<Probe, () => Promise<unknown>>> = {}): void {
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let gc = noPauses();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.fullCount++;
        gc.fullMaxMs = Math.max(gc.fullMaxMs, e.duration);
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (m: { probe: Probe; id: number }) => {
    // a probe that fails ends the role loudly (the parent sees the exit) instead of leaving it unanswered
    answer(m).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  });
  async function answer(m: { probe: Probe; id: number }): Promise<void> {
    let value: unknown;
    if (m.probe === 'cpu') {
      // the CPU time so far, and the event loop's delay since the last look (then measured afresh)
      value = { ...process.cpuUsage(), loop: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 }, gc };
      loopDelay.reset();
      gc = noPauses();
    } else if (m.probe === 'mem') {
      const gc = (globalThis as { gc?: () => void }).gc;
      const t0 = performance.now();
      gc?.();
      gc?.();
      value = { ...process.memoryUsage(), gcMs: performance.now() - t0 };
    } else if (m.probe === 'handles') {
      const counts: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
      value = counts;
    } else if (m.probe === 'heap') value = await heapSummary();
    else value = await extra[m.probe]?.();
    process.send?.({ id: m.id, value });
  }
}

/** Self size and count of the heap's objects by constructor (a V8 heap snapshot, parsed here). */
async function heapSummary(): Promise<Record<string, [number, number]>> {
  (globalThis as { gc?: () => void }).gc?.();
  const chunks: Buffer[] = [];
  for await (const c of getHeapSnapshot()) chunks.push(c as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out: Record<string, [number, number]> = {};
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]];
    const text = snap.strings[snap.nodes[i + iName]];
    // strings by their first characters (digits folded), to tell what kind of text is kept
    const name =
      type === 'object' || type === 'closure'
        ? `${type === 'closure' ? 'closure ' : ''}${text}`
        : type === 'string' || type === 'concatenated string' || type === 'sliced string'
          ? `(${type}) ${JSON.stringify(text.slice(0, 24).replace(/[0-9]/g, '#'))}`
          : `(${type})`;
    const e = (out[name] ??= [0, 0]);
    e[0]++;
    e[1] += snap.nodes[i + iSize];
  }
  return out;
}

// ---------------------------------------------------------------- roles (child processes)

async function roleSim(): Promise<void> {
  const { startSimulator } = await import('../src/catalog/simulator.js');
  // thousands of upstream connections opened within seconds (the accept queue), and idle ones kept as long
  // as OpenRouter's edge keeps them: with node's 5 s, a proxy whose event loop lags seconds behind under the
  // big run reused connections the simulator was closing, and those requests failed with a reset (502)
  const sim = await startSimulator({ chunkDelayMs: SPACING_MS, completionTokens: TOKENS, backlog: 4096, keepAliveTimeoutMs: 120_000 });
  answerProbes();
  announce({ url: sim.baseUrl });
}

/** The baseline: the bare pass-through proxy, without a connection cap either. */
async function roleBare(target: string): Promise<void> {
  const url = await startBareProxy(target, { connections: null, backlog: 4096, maxHeadersCount: 0 });
  // a normal exit (a CPU profile, when asked for, is written then)
  process.once('SIGTERM', () => process.exit(0));
  answerProbes();
  announce({ url });
}

async function roleArb(target: string): Promise<void> {
  const { createConfig } = await import('../src/config.js');
  const { openAndMigrate } = await import('../src/db/dialect.js');
  const { startDaemon } = await import('../daemon/main.js');
  const { sql } = await import('kysely');
  const dir = mkdtempSync(join(tmpdir(), 'arb-bench-streams-'));
  if (process.env.BENCH_KEEP === '1') console.error(`arb's database and log are kept in ${dir}`);
  else process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const config = createConfig({ OPENROUTER_BASE_URL: target, DB_NAME: join(dir, 'bench.db'), LOG_DIR: join(dir, 'logs'), RATE_LIMIT_RPM: '1000000' });
  const handle = await openAndMigrate({ dbName: config.dbName });
  const [[{ apiKey, allocationId }]] = await seedFreeKeys(handle, config, [{ model: 'gpt-4', description: 'bench' }]);
  const daemon = await startDaemon({ config, handle, host: '127.0.0.1', port: 0, bot: false, alerts: false });
  answerProbes({
    billing: async () => {
      const e = await sql<{ n: unknown; w: unknown }>`select count(*) as n, sum(weighted_tokens) as w from usage_events where status_code = 200`.execute(handle.db);
      const a = await sql<{ used: unknown; reserved: unknown }>`select tokens_used as used, tokens_reserved as reserved from ai_token_allocations where id = ${allocationId}`.execute(handle.db);
      return { events: Number(e.rows[0].n), weighted: Number(e.rows[0].w ?? 0), used: Number(a.rows[0].used), reserved: Number(a.rows[0].reserved) };
    },
  });
  process.once('SIGTERM', () => {
    void daemon
      .stop()
      .then(() => handle.close())
      .finally(() => process.exit(0));
  });
  announce({ url: daemon.url, key: apiKey });
}

// ---------------------------------------------------------------- the clients

let probeId = 0;
function probe<T>(child: ChildProcess, what: Probe): Promise<T> {
  const id = ++probeId;
  return new Promise((resolve) => {
    const on = (m: { id: number; value: T }) => {
      if (m?.id !== id) return;
      child.off('message', on);
      resolve(m.value);
    };
    child.on('message', on);
    child.send({ probe: what, id });
  });
}

interface StreamResult {
  ok: boolean;
  ttfbMs: number;
  /** the largest gap between chunks that does not span the memory probe (see probeWindow) */
  maxGapMs: number;
  /** the largest gap that spans the memory probe */
  maxProbeGapMs: number;
  /** when the largest gap ended (performance.now() here) */
  maxGapAt: number;
  prompt: number;
  completion: number;
  problem?: string;
}

/** Streams that have their first byte and have not ended, and how many ever had it. */
const live = { open: 0, started: 0, failed: 0 };

/**
 * When the bench looked at the server's memory with every stream open (performance.now() here): the probe
 * stops the server for two full collections (the bench's doing, not the server's), so a gap between chunks
 * that spans it is counted apart (maxProbeGapMs) and left out of the largest gap.
 */
const probeWindow = { start: Number.POSITIVE_INFINITY, end: Number.POSITIVE_INFINITY };

/** Opens one stream and reads it to the end, timing the first byte and the gaps between chunks. */
async function oneStream(agent: Agent, url: string, headers: Record<string, string>, body: string, tokens = TOKENS): Promise<StreamResult> {
  const t0 = performance.now();
  const out: StreamResult = { ok: false, ttfbMs: Number.NaN, maxGapMs: 0, maxProbeGapMs: 0, maxGapAt: 0, prompt: 0, completion: 0 };
  try {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, dispatcher: agent });
    if (res.statusCode !== 200) {
      live.failed++;
      out.problem = `status ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`;
      return out;
    }
    let last = 0;
    let text = '';
    try {
      for await (const chunk of res.body) {
        const now = performance.now();
        if (last === 0) {
          out.ttfbMs = now - t0;
          live.open++;
          live.started++;
        } else if (last < probeWindow.end && now > probeWindow.start) out.maxProbeGapMs = Math.max(out.maxProbeGapMs, now - last);
        else if (now - last > out.maxGapMs) {
          out.maxGapMs = now - last;
          out.maxGapAt = now;
        }
        last = now;
        text += chunk;
      }
    } finally {
      if (last !== 0) live.open--;
      else live.failed++;
    }
    const events = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6));
    const deltas = events.filter((e) => e.includes('"delta":{"content"') || e.includes('"delta":{"role":"assistant","content"')).length;
    const usageEvent = events.filter((e) => e.includes('"usage":{')).at(-1);
    const usage = usageEvent ? (JSON.parse(usageEvent) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage : undefined;
    out.prompt = usage?.prompt_tokens ?? 0;
    out.completion = usage?.completion_tokens ?? 0;
    out.ok = events.at(-1) === '[DONE]' && usage !== undefined && out.completion === tokens && deltas >= tokens - 1;
    if (!out.ok) out.problem = `${deltas} deltas, usage ${JSON.stringify(usage)}, ends ${JSON.stringify(events.at(-1))}`;
  } catch (e) {
    if (Number.isNaN(out.ttfbMs) && !String((e as Error).message).includes('status')) live.failed++;
    out.problem = (e as Error).message;
  }
  return out;
}

interface Phase {
  name: string;
  /** the warm-up streams, before the measurement */
  warmUp: StreamResult[];
  results: StreamResult[];
  cpuMs: number;
  /** CPU time of the simulator and of this process (the clients) over the same span, and the span, ms */
  simCpuMs: number;
  clientCpuMs: number;
  wallMs: number;
  /** the serving process's CPU time while the streams were being opened, and how long that took, ms */
  rampCpuMs: number;
  rampMs: number;
  /** the serving process's event loop delay while the streams were being opened, and after the memory probe */
  loopRamp: CpuLook['loop'];
  loopRest: CpuLook['loop'];
  /** when the first stream was opened (performance.now() here) */
  started: number;
  /** the garbage collector's pauses over the same two spans */
  gcRamp: GcPauses;
  gcRest: GcPauses;
  memPerStream: { rss: number; heap: number; heapTotal: number; arrayBuffers: number };
  /** the most connections seen waiting in the server's accept queue while the streams were being opened (null: not known) */
  acceptQueuePeak: number | null;
  /** how long the memory probe's two full collections stopped the server, ms */
  probeGcMs: number;
  /** streams open (first byte in, not ended) when the server was looked at */
  openAtProbe: number;
  handles: Record<string, number>;
  heap?: Record<string, [number, number]>;
  heapBefore?: Record<string, [number, number]>;
}

/**
 * Watches the listening socket's accept queue (connections the kernel completed that the server has not
 * yet taken: `ss`'s Recv-Q) every 100 ms until stopped; resolves to the largest length seen, or null
 * where `ss` is not available. Node's event loop takes one waiting connection per turn, so a server whose
 * turns are long falls behind a fast arrival of new connections: the wait counts in their time to first byte.
 */
function watchAcceptQueue(port: number): { stop(): Promise<number | null> } {
  let peak: number | null = null;
  let stopped = false;
  const look = () =>
    new Promise<void>((resolve) => {
      execFile('ss', ['-ltnH', `sport = :${port}`], { timeout: 2000 }, (err, out) => {
        const q = err ? Number.NaN : Number(out.trim().split(/\s+/)[1]);
        if (Number.isFinite(q)) peak = Math.max(peak ?? 0, q);
        resolve();
      });
    });
  const loop = (async () => {
    while (!stopped) {
      await look();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return peak;
    },
  };
}

async function phase(name: string, server: ChildProcess, sim: ChildProcess, url: string, headers: Record<string, string>, model: string): Promise<Phase> {
  const body = BODY(model);
  // generous timeouts: on a loaded machine a slow accept is a figure (TTFB), not a failure
  const agent = new Agent({ connections: null, keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000, connect: { timeout: 120_000 } });
  // the warm-up (see WARM_STREAMS): code paths compiled, pools and caches filled
  const warmUp: StreamResult[] = [];
  const warmBody = BODY(model, WARM_TOKENS);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(40, WARM_STREAMS) }, async () => {
      while (next++ < WARM_STREAMS) warmUp.push(await oneStream(agent, url, headers, warmBody, WARM_TOKENS));
    }),
  );
  const mem0 = await probe<NodeJS.MemoryUsage>(server, 'mem');
  const heapBefore = HEAP ? await probe<Record<string, [number, number]>>(server, 'heap') : undefined;
  const cpu0 = await probe<CpuLook>(server, 'cpu');
  const sim0 = await probe<CpuLook>(sim, 'cpu');
  const client0 = process.cpuUsage();
  live.started = 0;
  live.failed = 0;
  const started = performance.now();
  const every = (RAMP_S * 1000) / STREAMS;
  const acceptQueue = watchAcceptQueue(Number(new URL(url).port));
  const pending: Promise<StreamResult>[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const due = started + i * every;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(oneStream(agent, url, headers, body));
  }
  const ramp = await probe<CpuLook>(server, 'cpu');
  const rampMs = performance.now() - started;
  // look at the server once every stream has its first byte (each then has ~20 s to go)
  const deadline = performance.now() + 60_000;
  while (live.started + live.failed < STREAMS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const acceptQueuePeak = await acceptQueue.stop();
  const openAtProbe = live.open;
  probeWindow.start = performance.now();
  probeWindow.end = Number.POSITIVE_INFINITY;
  const mem1 = await probe<NodeJS.MemoryUsage & { gcMs: number }>(server, 'mem');
  const handles = await probe<Record<string, number>>(server, 'handles');
  probeWindow.end = performance.now();
  // the event loop's delay from here on, without the probe's collections
  await probe<CpuLook>(server, 'cpu');
  const heap = HEAP ? await probe<Record<string, [number, number]>>(server, 'heap') : undefined;
  const results = await Promise.all(pending);
  const cpu1 = await probe<CpuLook>(server, 'cpu');
  const sim1 = await probe<CpuLook>(sim, 'cpu');
  const client1 = process.cpuUsage();
  const wallMs = performance.now() - started;
  await agent.close();
  probeWindow.start = probeWindow.end = Number.POSITIVE_INFINITY;
  return {
    name,
    warmUp,
    results,
    cpuMs: cpuMsBetween(cpu0, cpu1),
    simCpuMs: cpuMsBetween(sim0, sim1),
    clientCpuMs: cpuMsBetween(client0, client1),
    wallMs,
    started,
    rampCpuMs: cpuMsBetween(cpu0, ramp),
    rampMs,
    loopRamp: ramp.loop,
    loopRest: cpu1.loop,
    gcRamp: ramp.gc,
    gcRest: cpu1.gc,
    memPerStream: {
      rss: (mem1.rss - mem0.rss) / openAtProbe,
      heap: (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / openAtProbe,
      heapTotal: (mem1.heapTotal - mem0.heapTotal) / openAtProbe,
      arrayBuffers: (mem1.arrayBuffers - mem0.arrayBuffers) / openAtProbe,
    },
    probeGcMs: mem1.gcMs,
    acceptQueuePeak,
    openAtProbe,
    handles,
    heap,
    heapBefore,
  };
}

/** The intact streams of `p`, and their times to first byte and largest gaps between chunks, sorted. */
function timings(p: Phase): { ok: StreamResult[]; ttfb: number[]; gaps: number[] } {
  const ok = p.results.filter((r) => r.ok);
  return { ok, ttfb: ok.map((r) => r.ttfbMs).sort((a, b) => a - b), gaps: ok.map((r) => r.maxGapMs).sort((a, b) => a - b) };
}

/** TTFB p50 and the p99 of the largest gap between chunks, over the intact streams of `p`. */
function summary(p: Phase): { ttfb50: number; gap99: number } {
  const { ttfb, gaps } = timings(p);
  return { ttfb50: percentile(ttfb, 50), gap99: percentile(gaps, 99) };
}

function report(p: Phase): void {
  const { ok, ttfb, gaps } = timings(p);
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  const perStream = Object.entries(p.handles)
    .filter(([, n]) => n >= p.openAtProbe / 4)
    .map(([k, n]) => `${k} ${(n / p.openAtProbe).toFixed(2)}`)
    .join(', ');
  console.log(`\n${p.name}: ${ok.length} of ${p.results.length} streams intact (and ${p.warmUp.filter((r) => r.ok).length} of ${p.warmUp.length} short ones to warm up)`);
  const problems = [...p.warmUp, ...p.results].filter((r) => !r.ok).slice(0, 3);
  for (const r of problems) console.log(`  problem: ${r.problem}`);
  console.log(`  CPU of the serving process       ${(p.cpuMs / 1000).toFixed(2)} s (${((p.cpuMs * 1000) / STREAMS).toFixed(0)} µs per stream)`);
  const cores = (ms: number) => (ms / p.wallMs).toFixed(2);
  console.log(
    `  cores busy over the ${(p.wallMs / 1000).toFixed(1)} s    serving process ${cores(p.cpuMs)}, simulator ${cores(p.simCpuMs)}, clients ${cores(p.clientCpuMs)}: ${cores(p.cpuMs + p.simCpuMs + p.clientCpuMs)} of ${availableParallelism()}; while opening (${(p.rampMs / 1000).toFixed(1)} s) the serving process ${(p.rampCpuMs / p.rampMs).toFixed(2)} (near 1: saturated, and the time to first byte is mostly queueing)`,
  );
  const loop = (l: CpuLook['loop']) => `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(0)} ms`;
  console.log(`  event loop delay                 while opening: ${loop(p.loopRamp)}; after the memory probe: ${loop(p.loopRest)}`);
  const pauses = (g: GcPauses) => `${g.count} pauses, ${g.totalMs.toFixed(0)} ms in all, longest ${g.maxMs.toFixed(1)} ms; ${g.fullCount} full, longest ${g.fullMaxMs.toFixed(1)} ms`;
  console.log(`  garbage collection               while opening: ${pauses(p.gcRamp)}; after the memory probe: ${pauses(p.gcRest)}`);
  console.log(`  memory per open stream           RSS ${kb(p.memPerStream.rss)}, V8 heap + external ${kb(p.memPerStream.heap)} (${p.openAtProbe} streams open when measured)`);
  console.log(`                                   of which V8 heap committed ${kb(p.memPerStream.heapTotal)}, array buffers ${kb(p.memPerStream.arrayBuffers)}; the rest of RSS is native`);
  console.log(`  active resources per stream      ${perStream || '(none at a quarter per stream or more)'}`);
  console.log(
    `  time to first byte               p50 ${percentile(ttfb, 50).toFixed(1)} ms, p99 ${percentile(ttfb, 99).toFixed(1)} ms; accept queue at most ${p.acceptQueuePeak ?? 'n/a'} connections waiting`,
  );
  console.log(`  largest gap between chunks       p50 ${percentile(gaps, 50).toFixed(1)} ms, p99 ${percentile(gaps, 99).toFixed(1)} ms (chunks ${SPACING_MS} ms apart)`);
  // when the long gaps happened: the streams whose largest gap is over 1.3 × the spacing, by the second it ended
  const long = ok.filter((r) => r.maxGapMs > 1.3 * SPACING_MS);
  const bySecond = new Map<number, number>();
  for (const r of long) {
    const sec = Math.floor((r.maxGapAt - p.started) / 1000);
    bySecond.set(sec, (bySecond.get(sec) ?? 0) + 1);
  }
  console.log(
    `                                   ${long.length} streams had a gap over ${1.3 * SPACING_MS} ms; by the second it ended: ${[...bySecond]
      .sort((a, b) => a[0] - b[0])
      .map(([sec, n]) => `${sec}s ${n}`)
      .join(', ')}`,
  );
  const probeGaps = ok.map((r) => r.maxProbeGapMs).sort((a, b) => a - b);
  console.log(
    `                                   left out: the gaps across the memory probe (its full collections stopped the server ${p.probeGcMs.toFixed(1)} ms): p50 ${percentile(probeGaps, 50).toFixed(1)} ms, p99 ${percentile(probeGaps, 99).toFixed(1)} ms`,
  );
}

/** What grows per stream in `p` (heap objects by constructor, minus the baseline), beside the same in `base`. */
function heapGrowth(p: Phase, base: Phase): void {
  const growth = (x: Phase) => {
    const out = new Map<string, [number, number]>();
    for (const [k, [n, b]] of Object.entries(x.heap ?? {})) {
      const [n0, b0] = x.heapBefore?.[k] ?? [0, 0];
      out.set(k, [(n - n0) / x.openAtProbe, (b - b0) / x.openAtProbe]);
    }
    return out;
  };
  const a = growth(p);
  const b = growth(base);
  // sorted by what arb has beyond the baseline
  const rows = [...a].sort((x, y) => y[1][1] - (b.get(y[0])?.[1] ?? 0) - (x[1][1] - (b.get(x[0])?.[1] ?? 0))).slice(0, 60);
  console.log(`\nheap growth per open stream, by constructor, most beyond the baseline first (${p.name} | ${base.name}): objects, bytes`);
  for (const [k, [n, bytes]] of rows) {
    const [bn, bb] = b.get(k) ?? [0, 0];
    console.log(`  ${k.slice(0, 48).padEnd(48)} ${n.toFixed(2).padStart(7)} ${bytes.toFixed(0).padStart(7)} B  | ${bn.toFixed(2).padStart(7)} ${bb.toFixed(0).padStart(7)} B`);
  }
  const total = (m: Map<string, [number, number]>) => [...m.values()].reduce((s, [, x]) => s + x, 0);
  console.log(`  total (self sizes)                               ${total(a).toFixed(0).padStart(15)} B  | ${total(b).toFixed(0).padStart(15)} B`);
}

/**
 * Each stream is a socket here and two in a proxy (client and upstream): when the file limit is lower,
 * the bench runs itself again under `ulimit -n` (children inherit it), or says how to raise it.
 */
function ensureFileLimit(): void {
  const need = 2 * STREAMS + 1024;
  const soft = Number(spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (!(soft < need) || process.env.ARB_BENCH_ULIMIT === '1') return;
  const r = spawnSync('bash', ['-c', `ulimit -n ${need} && exec "$0" "$@"`, process.execPath, ...process.execArgv, SELF, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, ARB_BENCH_ULIMIT: '1' },
  });
  if (r.status !== 0) console.error(`${STREAMS} streams need ${need} open files per process (the limit is ${soft}); run it after: ulimit -n ${need}`);
  process.exit(r.status ?? 1);
}

interface Billing {
  events: number;
  weighted: number;
  used: number;
  reserved: number;
}

/** One bare phase and one arb phase, each on a fresh serving process, and what arb billed. */
interface Round {
  bare: Phase;
  arb: Phase;
  billing: Billing;
  billedOk: boolean;
  order: string;
}

/** arb over bare in one round: CPU and RSS per stream as ratios, TTFB p50 and largest-gap p99 as differences (ms). */
function compare(r: Round): { cpu: number; mem: number; ttfb: number; gap: number } {
  const b = summary(r.bare);
  const a = summary(r.arb);
  return { cpu: r.arb.cpuMs / r.bare.cpuMs, mem: r.arb.memPerStream.rss / r.bare.memPerStream.rss, ttfb: a.ttfb50 - b.ttfb50, gap: a.gap99 - b.gap99 };
}

/** Resolves once `child` has exited (at once when it already has). */
function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function main(): Promise<void> {
  ensureFileLimit();
  const children: ChildProcess[] = [];
  const nodeArgs = ['--expose-gc', '--max-old-space-size=4096'];
  try {
    console.log(
      `streams bench: ${STREAMS.toLocaleString('en-US')} streams of ${TOKENS} tokens ${SPACING_MS} ms apart, opened over ${RAMP_S} s, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}; machine: ${machineLoad()} (other helpers share the cores)`,
    );
    // BENCH_PROFILE=DIR: CPU profiles (node --cpu-prof) of both serving processes, written when they exit
    const profile = (who: string) => (process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PROFILE, who)}`] : []);
    const stop = (child: ChildProcess) => {
      child.kill('SIGTERM');
      return exited(child);
    };
    // every phase on fresh processes, the simulator's too: no phase inherits another's heap, connections,
    // request records or database
    const freshSim = async () => {
      const sim = await startRole(SELF, 'sim', [], nodeArgs);
      children.push(sim.child);
      return sim;
    };
    const runBare = async () => {
      const sim = await freshSim();
      const bare = await startRole(SELF, 'bare', [sim.info.url], [...nodeArgs, ...profile('bare')]);
      children.push(bare.child);
      const result = await phase('bare pass-through', bare.child, sim.child, `${bare.info.url}/chat/completions`, {}, 'openai/gpt-4');
      await stop(bare.child);
      await stop(sim.child);
      return result;
    };
    const runArb = async () => {
      const sim = await freshSim();
      const arb = await startRole(SELF, 'arb', [sim.info.url], [...nodeArgs, ...profile('arb')]);
      children.push(arb.child);
      const result = await phase('arb', arb.child, sim.child, `${arb.info.url}/v1/chat/completions`, { authorization: `Bearer ${arb.info.key}` }, 'gpt-4');
      // settles finish right after each stream's end
      await new Promise((r) => setTimeout(r, 1000));
      const billing = await probe<Billing>(arb.child, 'billing');
      await stop(arb.child);
      await stop(sim.child);
      return { result, billing };
    };
    // BENCH_ORDER=arb-first: arb's streams before the bare proxy's in the first round; the order alternates from round to round
    const arbFirst = process.env.BENCH_ORDER === 'arb-first';
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const arbNow = arbFirst !== (i % 2 === 1);
      const order = arbNow ? 'arb, then bare' : 'bare, then arb';
      console.log(`
---- round ${i + 1} of ${ROUNDS} (${order})`);
      let arbRun = arbNow ? await runArb() : undefined;
      const barePhase = await runBare();
      arbRun ??= await runArb();
      const { result: arbPhase, billing } = arbRun;
      report(barePhase);
      report(arbPhase);
      // openai/gpt-4: a completion token weighs 2 prompt tokens
      const served = [...arbPhase.warmUp, ...arbPhase.results].filter((r) => r.ok).reduce((s, r) => s + r.prompt + 2 * r.completion, 0);
      const intact = arbPhase.results.filter((r) => r.ok).length;
      const warm = arbPhase.warmUp.filter((r) => r.ok).length;
      const billedOk = billing.events === intact + warm && billing.weighted === served && billing.used === served && billing.reserved === 0;
      console.log(
        `\narb billing: ${billing.events.toLocaleString('en-US')} usage events (${intact.toLocaleString('en-US')} intact streams + ${warm} to warm up), ${billing.weighted.toLocaleString('en-US')} tokens charged for ${served.toLocaleString('en-US')} served by the upstream, ${billing.reserved} still held: ${billedOk ? 'exact' : 'NOT EXACT'}`,
      );
      if (HEAP) {
        console.log('\n(BENCH_HEAP=1: the heap snapshots stop each server for seconds, so the timings and RSS above are not meaningful in this mode)');
        heapGrowth(arbPhase, barePhase);
      }
      rounds.push({ bare: barePhase, arb: arbPhase, billing, billedOk, order });
    }

    const verdict = (okay: boolean) => (okay ? 'met' : 'NOT MET');
    const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} ms`;
    console.log(`\narb over bare, round by round (each pair on fresh processes${ROUNDS > 1 ? ', the order alternating' : ''})`);
    console.log(`  ${'round'.padEnd(22)} ${'CPU'.padStart(6)} ${'RSS/stream'.padStart(11)} ${'TTFB p50'.padStart(11)} ${'gap p99'.padStart(11)}  accept queue (bare/arb)`);
    const compared = rounds.map(compare);
    for (const [i, r] of rounds.entries()) {
      const c = compared[i];
      console.log(
        `  ${`${i + 1} (${r.order})`.padEnd(22)} ${`${c.cpu.toFixed(2)}×`.padStart(6)} ${`${c.mem.toFixed(2)}×`.padStart(11)} ${signed(c.ttfb).padStart(11)} ${signed(c.gap).padStart(11)}  ${r.bare.acceptQueuePeak ?? 'n/a'}/${r.arb.acceptQueuePeak ?? 'n/a'}`,
      );
    }
    const med = (f: (c: (typeof compared)[number]) => number) => middle(compared, f);
    const [cpu, mem, ttfb, gap] = [med((c) => c.cpu), med((c) => c.mem), med((c) => c.ttfb), med((c) => c.gap)];
    console.log(`\narb over bare${ROUNDS > 1 ? `, the median of the ${ROUNDS} rounds` : ''}`);
    console.log(`  CPU                          ${cpu.toFixed(2)}×   (goal ≤ 1.3×) ${verdict(cpu <= 1.3)}`);
    console.log(`  memory per open stream (RSS) ${mem.toFixed(2)}×   (goal ≤ 1.3×) ${verdict(mem <= 1.3)}`);
    console.log(`  TTFB p50                     ${signed(ttfb)}  (goal within 5 ms) ${verdict(ttfb <= 5)}`);
    console.log(`  largest gap p99              ${signed(gap)}  (goal within 25 ms) ${verdict(gap <= 25)}`);
    console.log(`\nmachine: ${machineLoad()} at the end`);
    const broken = (p: Phase) => [...p.warmUp, ...p.results].some((x) => !x.ok);
    if (rounds.some((r) => !r.billedOk || broken(r.arb) || broken(r.bare))) process.exitCode = 1;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map(exited));
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
const arg = process.argv[process.argv.indexOf(`--role=${role}`) + 1];
if (role === 'sim') await roleSim();
else if (role === 'bare') await roleBare(arg);
else if (role === 'arb') await roleArb(arg);
else await main();
