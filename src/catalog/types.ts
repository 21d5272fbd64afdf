/** OpenRouter API shapes arb reads. */

/** One model entry as OpenRouter's `/models` returns it (only the fields arb reads are typed). */
export interface OpenRouterModel {
  id: string;
  name?: string;
  context_length?: number | null;
  pricing?: Record<string, string | number | null | undefined>;
  top_provider?: { context_length?: number | null; max_completion_tokens?: number | null; [k: string]: unknown } | null;
  [key: string]: unknown;
}
