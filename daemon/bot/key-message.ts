/**
 * The message that hands a customer a key: sent as a message of its own that the bot never edits or
 * deletes (its only button copies the key, so no tap can turn it into another screen), with the base URL
 * and ready settings for curl, the OpenAI SDKs, and — for Anthropic models — Claude Code, each pinned to
 * the package's model. It is the one place a full key is shown.
 */
import { InlineKeyboard } from 'grammy';
import { claudeCodeEnv, shellExports } from '../../src/client-settings.js';
import type { ShopContext } from './context.js';
import type { Locale } from './locales/index.js';
import { say } from './screens.js';

export interface DeliveredKey {
  key: string;
  model: string;
  description: string | null;
  tokens: number;
  expiresAt: string;
  /** the proxy's OpenAI base URL, e.g. https://shop.example.com/v1 */
  baseUrl: string;
}

/** A ready-to-paste request against the proxy (contains the key). */
export function curlLine(apiBaseUrl: string, key: string, model: string): string {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  return `curl ${apiBaseUrl}/chat/completions \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '${body}'`;
}

/** Environment for the OpenAI SDKs (Python, Node) and tools built on them. */
export function openAiSettings(apiBaseUrl: string, key: string): string {
  return shellExports({ OPENAI_BASE_URL: apiBaseUrl, OPENAI_API_KEY: key }).join('\n');
}

/** Claude Code's environment (src/client-settings.ts: base URL without /v1, every model setting pinned), then `claude`. */
export function claudeCodeSettings(apiBaseUrl: string, key: string, model: string): string {
  return [...shellExports(claudeCodeEnv(apiBaseUrl, key, model)), 'claude'].join('\n');
}

export function isAnthropicModel(model: string): boolean {
  return model.startsWith('anthropic/');
}

export function keyMessage(t: Locale, k: DeliveredKey): { html: string; keyboard: InlineKeyboard } {
  const html = t.keys.delivered({
    ...k,
    curl: curlLine(k.baseUrl, k.key, k.model),
    openai: openAiSettings(k.baseUrl, k.key),
    claudeCode: isAnthropicModel(k.model) ? claudeCodeSettings(k.baseUrl, k.key, k.model) : null,
  });
  return { html, keyboard: new InlineKeyboard().copyText(t.btn.copyKey, k.key) };
}

/** Sends the key message (a new message, never an edit). */
export async function sendKey(ctx: ShopContext, k: DeliveredKey): Promise<void> {
  const { html, keyboard } = keyMessage(ctx.t, k);
  await say(ctx, html, keyboard);
}
