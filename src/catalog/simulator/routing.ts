/**
 * Model rates and OpenRouter's routing and billing behaviour, as its documentation describes it, so a
 * proxy's defence against forwarded routing fields can be shown:
 * - `models` (Chat, Responses, Completions, Messages) or `fallbacks: [{model}]` (Messages): the requested
 *   model is taken as unavailable and the first other valid entry answers, named in the response's
 *   `model`, at its own rates.
 * - a model id with a suffix (`openai/gpt-4:online`) answers as the base model; `:online` adds a web
 *   search, `:nitro` routes to a premium provider.
 * - `provider` preferences (and `:nitro`) pick a provider priced at 2× the listed rates (`provider` in the
 *   response names it); Messages `speed: "fast"` costs 6× (OpenRouter's fast Opus is 6×).
 * - `plugins: [{id: "web"}]` and `:online` bill `max_results` (default 5) web results at $0.004 each;
 *   server tools in `tools` (`web_search_20250305`, `web_search`, …) bill one search at $0.01.
 * - `route`, `transforms`, `preset`, `trace`, `service_tier`, `session_id`, top-level `cache_control` are
 *   only recorded.
 * Every feature used is listed in the request record's `routing`, so tests can also assert that none
 * reached the upstream.
 */
import { parseOpenRouterRate } from '../../pricing.js';
import type { OpenRouterModel } from '../types.js';
import type { SimProtocol, SimTokens } from './types.js';

/** Rates in µ$ per million tokens. */
export interface Rates {
  prompt: number;
  completion: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

export function indexModels(models: OpenRouterModel[]): Map<string, Rates> {
  const map = new Map<string, Rates>();
  for (const m of models) {
    const prompt = parseOpenRouterRate(m.pricing?.prompt) ?? 0;
    const completion = parseOpenRouterRate(m.pricing?.completion) ?? 0;
    map.set(m.id, {
      prompt,
      completion,
      cacheRead: parseOpenRouterRate(m.pricing?.input_cache_read) ?? prompt,
      cacheWrite: parseOpenRouterRate(m.pricing?.input_cache_write) ?? prompt,
      reasoning: parseOpenRouterRate(m.pricing?.internal_reasoning) ?? completion,
    });
  }
  return map;
}

export const PREMIUM_PROVIDER = 'SimulatorPremium';
export const DEFAULT_PROVIDER = 'Simulator';
const WEB_RESULT_USD = 0.004;
const SERVER_SEARCH_USD = 0.01;

export interface Route {
  /** the model that answers */
  model: string;
  rates: Rates;
  /** price multiplier of the provider that answers */
  multiplier: number;
  provider: string;
  webSearches: number;
  /** USD billed on top of tokens (web search) */
  extraUsd: number;
  routing: string[];
}

const RECORDED_FIELDS = ['models', 'fallbacks', 'route', 'provider', 'plugins', 'transforms', 'preset', 'trace', 'speed', 'service_tier', 'session_id'];
const CLIENT_TOOL_TYPES: Record<SimProtocol, ReadonlySet<string>> = {
  chat: new Set(['function']),
  completions: new Set(),
  embeddings: new Set(),
  responses: new Set(['function', 'namespace', 'custom']),
  messages: new Set(['custom']),
};

/** Resolves who answers a request and at what price; a string is the 400 message when no model fits. */
export function planRoute(protocol: SimProtocol, body: Record<string, unknown>, index: Map<string, Rates>): Route | string {
  const routing: string[] = [];
  for (const f of RECORDED_FIELDS) if (body[f] !== undefined && body[f] !== null) routing.push(f);
  if (protocol === 'messages' && body.cache_control !== undefined) routing.push('cache_control');

  let webSearches = 0;
  let extraUsd = 0;
  let multiplier = 1;
  let provider = DEFAULT_PROVIDER;

  if (Array.isArray(body.plugins)) {
    for (const p of body.plugins as Array<{ id?: unknown; max_results?: unknown }>) {
      const id = typeof p?.id === 'string' ? p.id : '?';
      routing.push(`plugins:${id}`);
      if (id === 'web') {
        const results = Number.isInteger(p.max_results) && (p.max_results as number) > 0 ? (p.max_results as number) : 5;
        webSearches += results;
        extraUsd += results * WEB_RESULT_USD;
      }
    }
  }
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools as Array<{ type?: unknown }>) {
      const type = typeof tool?.type === 'string' ? tool.type : undefined;
      if (type === undefined || CLIENT_TOOL_TYPES[protocol].has(type)) continue;
      routing.push(`tool:${type}`);
      if (/web_search/.test(type)) {
        webSearches += 1;
        extraUsd += SERVER_SEARCH_USD;
      }
    }
  }

  const requested = typeof body.model === 'string' ? body.model : '';
  const fallbacks: string[] = [];
  if (Array.isArray(body.models)) for (const m of body.models) if (typeof m === 'string') fallbacks.push(m);
  if (Array.isArray(body.fallbacks)) for (const f of body.fallbacks as Array<{ model?: unknown }>) if (typeof f?.model === 'string') fallbacks.push(f.model);

  let base: string | undefined;
  if (index.has(requested)) base = requested;
  else {
    const colon = requested.lastIndexOf(':');
    if (colon > 0 && index.has(requested.slice(0, colon))) {
      base = requested.slice(0, colon);
      const suffix = requested.slice(colon + 1);
      routing.push(`suffix:${suffix}`);
      if (suffix === 'online') {
        webSearches += 5;
        extraUsd += 5 * WEB_RESULT_USD;
      }
      if (suffix === 'nitro') {
        multiplier *= 2;
        provider = PREMIUM_PROVIDER;
      }
    }
  }
  // the requested model is taken as unavailable when a fallback list names another valid model
  const other = fallbacks.find((m) => index.has(m) && m !== base);
  const model = other ?? base;
  if (!model) return requested ? `${requested} is not a valid model ID` : 'No models provided';

  if (body.provider !== undefined && body.provider !== null) {
    multiplier *= 2;
    provider = PREMIUM_PROVIDER;
  }
  if (protocol === 'messages' && body.speed === 'fast') multiplier *= 6;

  return { model, rates: index.get(model)!, multiplier, provider, webSearches, extraUsd, routing };
}

/** USD of the served tokens at the route's price: [total, prompt side, completion side]. */
export function costOf(route: Route, t: SimTokens): { total: number; prompt: number; completion: number } {
  const r = route.rates;
  const promptMicros = (t.input * r.prompt + t.cacheRead * r.cacheRead + t.cacheWrite * r.cacheWrite) * route.multiplier;
  const completionMicros = (t.output * r.completion + t.reasoning * r.reasoning) * route.multiplier;
  return { total: (promptMicros + completionMicros) / 1e12 + route.extraUsd, prompt: promptMicros / 1e12, completion: completionMicros / 1e12 };
}
