/**
 * Prometheus metrics (SPEC §9) on prom-client with a Registry per daemon (no global state), so several
 * daemons in one process (tests, replicas) keep separate counts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ProxyMetrics {
  readonly registry: Registry;
  httpRequest(route: string, status: number): void;
  /** a finished chat completion */
  completion(input: {
    model: string;
    status: number;
    outcome: string;
    promptTokens: number;
    completionTokens: number;
    weightedTokens: number;
    lossTokens: number;
    revenueMicros: number;
    upstreamCostMicros: number;
  }): void;
  upstreamLatency(model: string, seconds: number): void;
  overhead(seconds: number): void;
  rejection(reason: string): void;
  inFlight(delta: 1 | -1): void;
  /** how long the metering writes waited for a WAL checkpoint to catch up (SQLite: daemon/sqlite-checkpointer.ts) */
  writePause(seconds: number): void;
  render(): Promise<string>;
  readonly contentType: string;
}

export function createProxyMetrics(options: { defaultMetrics?: boolean } = {}): ProxyMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'arb_' });
  const http = new Counter({ name: 'arb_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] });
  const requests = new Counter({
    name: 'arb_proxy_requests_total',
    help: 'Chat completion requests forwarded upstream, by model, status and outcome',
    labelNames: ['model', 'status', 'outcome'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'arb_proxy_tokens_total',
    help: 'Tokens metered, by model and kind (prompt, completion, weighted = charged prompt-equivalent, loss = served beyond the quota)',
    labelNames: ['model', 'kind'] as const,
    registers: [registry],
  });
  const revenue = new Counter({
    name: 'arb_proxy_revenue_micros_total',
    help: 'Sell-side value of the tokens charged (µ$, price paid × charged / package tokens)',
    labelNames: ['model'] as const,
    registers: [registry],
  });
  const upstreamCost = new Counter({
    name: 'arb_proxy_upstream_cost_micros_total',
    help: 'Upstream cost reported by usage.cost (µ$)',
    labelNames: ['model'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'arb_upstream_latency_seconds',
    help: 'Time from forwarding a request to the upstream response headers',
    labelNames: ['model'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const overhead = new Histogram({
    name: 'arb_proxy_overhead_seconds',
    help: 'Time spent in arb itself per request (x-arb-overhead-ms)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const rejections = new Counter({ name: 'arb_proxy_rejections_total', help: 'Requests refused before forwarding, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const writePauses = new Histogram({
    name: 'arb_sqlite_write_pause_seconds',
    help: 'Pauses of the metering writes while the WAL checkpoint caught up, so that the WAL could start over (SQLite)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'arb_proxy_in_flight', help: 'Chat completion requests in flight', registers: [registry] });

  return {
    registry,
    contentType: registry.contentType,
    httpRequest(route, status) {
      http.inc({ route, status: String(status) });
    },
    completion(c) {
      requests.inc({ model: c.model, status: String(c.status), outcome: c.outcome });
      if (c.promptTokens) tokens.inc({ model: c.model, kind: 'prompt' }, c.promptTokens);
      if (c.completionTokens) tokens.inc({ model: c.model, kind: 'completion' }, c.completionTokens);
      if (c.weightedTokens) tokens.inc({ model: c.model, kind: 'weighted' }, c.weightedTokens);
      if (c.lossTokens) tokens.inc({ model: c.model, kind: 'loss' }, c.lossTokens);
      if (c.revenueMicros) revenue.inc({ model: c.model }, c.revenueMicros);
      if (c.upstreamCostMicros) upstreamCost.inc({ model: c.model }, c.upstreamCostMicros);
    },
    upstreamLatency(model, seconds) {
      latency.observe({ model }, seconds);
    },
    overhead(seconds) {
      overhead.observe(seconds);
    },
    rejection(reason) {
      rejections.inc({ reason });
    },
    inFlight(delta) {
      inFlight.inc(delta);
    },
    writePause(seconds) {
      writePauses.observe(seconds);
    },
    render: () => registry.metrics(),
  };
}
