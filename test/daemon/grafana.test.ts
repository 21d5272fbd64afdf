/**
 * daemon/deploy/grafana-arb.json queries only metrics the daemon really exports: every `arb_…` name in
 * every panel query is scraped from a running daemon's /metrics (histograms as _bucket/_sum/_count), and
 * every `by (…)` label is a label those series carry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HELLO, startStack } from './harness.js';

const DASHBOARD = new URL('../../daemon/deploy/grafana-arb.json', import.meta.url);

function expressions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) expressions(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else expressions(v, out);
    }
  }
  return out;
}

test('the Grafana dashboard queries the metric names and labels the daemon exports', async (t) => {
  const stack = await startStack(t, { daemon: { defaultMetrics: true } });
  const { key } = await stack.buyKey();
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 10 });
  // a refused request, so the rejection counter has a labelled series too
  const refused = await fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-arb-not-a-key', 'content-type': 'application/json' }, body: '{}' });
  assert.equal(refused.status, 401);
  await stack.daemon.idle();
  const text = await (await fetch(`${stack.daemon.url}/metrics`)).text();

  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  const labels = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^(\w+)\{([^}]*)\} /gm)) {
    const set = labels.get(m[1]) ?? new Set<string>();
    for (const l of m[2].matchAll(/(\w+)="/g)) set.add(l[1]);
    labels.set(m[1], set);
  }

  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: unknown[]; title: string };
  const exprs = expressions(dashboard.panels);
  assert.ok(exprs.length >= 15, `${exprs.length} queries`);
  const used = new Set<string>();
  for (const expr of exprs) {
    const metrics = [...expr.matchAll(/\b(arb_[a-z0-9_]+)\b/g)].map((m) => m[1]);
    assert.ok(metrics.length > 0, `a query without an arb metric: ${expr}`);
    for (const metric of metrics) {
      assert.ok(names.has(metric), `${metric} (in ${expr}) is not exported by the daemon`);
      used.add(metric);
    }
    // the labels grouped by must be on the series (le is the histogram's own)
    for (const by of expr.matchAll(/\bby \(([^)]*)\)/g)) {
      for (const label of by[1]
        .split(',')
        .map((s) => s.trim())
        .filter((l) => l !== 'le')) {
        const carried = metrics.some((m) => labels.get(m)?.has(label));
        assert.ok(carried, `by (${label}) in ${expr}: no series of ${metrics.join(', ')} carries "${label}"`);
      }
    }
  }
  for (const core of ['arb_proxy_requests_total', 'arb_proxy_revenue_micros_total', 'arb_proxy_upstream_cost_micros_total', 'arb_upstream_latency_seconds_bucket', 'arb_proxy_tokens_total']) {
    assert.ok(used.has(core), `the dashboard charts ${core}`);
  }
});
