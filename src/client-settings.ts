/**
 * The settings a customer gives their client to use a key, in one place for `arb demo`, the bot and the
 * client tests (what each client reads is written up in docs/clients.md).
 */

/**
 * Every model setting Claude Code 2.1 reads: the main model, the four class defaults its Agent tool and
 * built-in subagents pick (`haiku`, `sonnet`, `opus`, `fable`), the small/fast model of background calls
 * (session titles) and the subagent override. Pinning all of them keeps every call on the package's model.
 */
export const CLAUDE_CODE_MODEL_VARS = [
  'ANTHROPIC_MODEL',
  'ANTHROPIC_DEFAULT_HAIKU_MODEL',
  'ANTHROPIC_DEFAULT_SONNET_MODEL',
  'ANTHROPIC_DEFAULT_OPUS_MODEL',
  'ANTHROPIC_DEFAULT_FABLE_MODEL',
  'ANTHROPIC_SMALL_FAST_MODEL',
  'CLAUDE_CODE_SUBAGENT_MODEL',
] as const;

/**
 * Claude Code's environment for a key: the proxy's origin without `/v1` (Claude Code appends
 * `/v1/messages`), the key as a bearer token, every model setting pinned to `model`.
 */
export function claudeCodeEnv(origin: string, key: string, model: string): Record<string, string> {
  const env: Record<string, string> = { ANTHROPIC_BASE_URL: origin.replace(/\/+$/, '').replace(/\/v1$/, ''), ANTHROPIC_AUTH_TOKEN: key };
  for (const name of CLAUDE_CODE_MODEL_VARS) env[name] = model;
  return env;
}

/** The same as `export NAME='value'` lines for a POSIX shell. */
export function shellExports(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
}

/** Codex CLI's `config.toml` for a key read from the environment variable `envKey` (Responses wire API). */
export function codexConfigToml(baseUrl: string, model: string, envKey = 'ARB_API_KEY'): string {
  const q = (s: string) => JSON.stringify(s);
  return [`model = ${q(model)}`, 'model_provider = "arb"', '', '[model_providers.arb]', 'name = "arb"', `base_url = ${q(baseUrl)}`, `env_key = ${q(envKey)}`, 'wire_api = "responses"', ''].join('\n');
}
