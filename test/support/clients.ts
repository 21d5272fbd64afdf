/**
 * Runs the real coding-agent CLIs the way customers do, offline against a loopback server: Claude Code
 * (`claude -p`, a native binary) and Codex CLI (`codex exec` with a custom provider on the Responses wire
 * API). Each run gets a temporary HOME (and CODEX_HOME), only the variables it needs (no developer
 * credentials leak in), telemetry/updates/non-essential traffic off, and a timeout; the temp dirs are
 * removed afterwards. What the CLIs send is written up in docs/clients.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeCodeEnv, codexConfigToml } from '../../src/client-settings.js';

const nodeModules = (path: string) => fileURLToPath(new URL(`../../node_modules/${path}`, import.meta.url));

/**
 * Claude Code's native binary: the platform package's own file when present (it does not depend on the
 * wrapper's postinstall having replaced its placeholder), else the `claude` bin.
 */
export const CLAUDE_BIN = [`@anthropic-ai/claude-code-${process.platform}-${process.arch}/claude`, '.bin/claude'].map(nodeModules).find((p) => existsSync(p)) ?? nodeModules('.bin/claude');
export const CODEX_BIN = nodeModules('.bin/codex');

export interface ClientRun {
  /** exit code, null when killed */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Why a CLI cannot run here (its binary is missing or is only an install placeholder), or null. */
export function missingClient(bin: string): string | null {
  if (!existsSync(bin)) return `${bin} is not installed (npm ci installs it as a devDependency)`;
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return probe.status === 0 ? null : `${bin} --version failed (${(probe.stderr || probe.stdout || String(probe.error ?? '')).trim().split('\n')[0]})`;
}

function run(bin: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<ClientRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'dumb', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, durationMs: Date.now() - started });
    });
  });
}

export interface ClaudeCodeOptions {
  /** the proxy's (or simulator's) origin; a trailing /v1 is dropped, as customers are told */
  baseUrl: string;
  key: string;
  /** pinned for every model setting Claude Code reads */
  model: string;
  prompt: string;
  /** working directory (default: a fresh temp dir) */
  cwd?: string;
  /** extra CLI arguments after `-p <prompt>` */
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `claude -p <prompt>` with the customer's setting (claudeCodeEnv) and nothing else reaching the network. */
export async function runClaudeCode(opts: ClaudeCodeOptions): Promise<ClientRun> {
  const home = mkdtempSync(join(tmpdir(), 'arb-claude-home-'));
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'arb-claude-cwd-'));
  try {
    const env = {
      HOME: home,
      ...claudeCodeEnv(opts.baseUrl, opts.key, opts.model),
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_ERROR_REPORTING: '1',
      ...opts.env,
    };
    return await run(CLAUDE_BIN, ['-p', opts.prompt, ...(opts.args ?? [])], { cwd, env, timeoutMs: opts.timeoutMs ?? 30_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
    if (!opts.cwd) rmSync(cwd, { recursive: true, force: true });
  }
}

export interface CodexOptions {
  /** the base URL with /v1 (Codex appends /responses) */
  baseUrl: string;
  key: string;
  model: string;
  prompt: string;
  cwd?: string;
  /** extra lines for config.toml (top-level keys) */
  config?: string;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `codex exec <prompt>` with a custom provider on the Responses wire API, the key in ARB_API_KEY. */
export async function runCodex(opts: CodexOptions): Promise<ClientRun> {
  const home = mkdtempSync(join(tmpdir(), 'arb-codex-home-'));
  const codexHome = mkdtempSync(join(tmpdir(), 'arb-codex-config-'));
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'arb-codex-cwd-'));
  try {
    writeFileSync(join(codexHome, 'config.toml'), `${opts.config ? `${opts.config}\n` : ''}${codexConfigToml(opts.baseUrl, opts.model)}`);
    const env = { HOME: home, CODEX_HOME: codexHome, ARB_API_KEY: opts.key, ...opts.env };
    return await run(CODEX_BIN, ['exec', '--skip-git-repo-check', ...(opts.args ?? []), opts.prompt], { cwd, env, timeoutMs: opts.timeoutMs ?? 30_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(codexHome, { recursive: true, force: true });
    if (!opts.cwd) rmSync(cwd, { recursive: true, force: true });
  }
}
