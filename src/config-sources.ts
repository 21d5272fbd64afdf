/**
 * Where each configuration value comes from (`arb config show`): the environment, the `.env` file or the
 * default, mirroring readEnv's precedence (the environment wins; an empty value means "unset"). Secrets
 * are masked here, once, so no caller can print one by mistake. `.env` is parsed with dotenv, the same
 * parser the daemon uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'dotenv';
import { CONFIG_VARIABLES, type Env } from './config.js';

export type ConfigSource = 'environment' | '.env' | 'default';

export interface ConfigValue {
  name: string;
  /** the effective value as shown: secrets masked; '' when unset */
  shown: string;
  source: ConfigSource;
  secret: boolean;
  description: string;
  /** why the source is not the obvious one, e.g. "empty in the environment: default used" */
  note?: string;
}

export interface ConfigSources {
  envFile: string;
  envFileFound: boolean;
  values: ConfigValue[];
  /** keys in the .env file that arb does not read (typos, leftovers) */
  unknownInEnvFile: string[];
}

/** Names whose values are secrets (TOKEN_MARKUP_PERCENTAGE is not one). */
export function isSecretName(name: string): boolean {
  return /^TOKEN$|_TOKEN$|API_KEY$|PASSWORD$|SECRET/.test(name);
}

/** `sk-o… (73 chars)`: enough to tell two keys apart, never enough to use one. */
export function maskSecret(value: string): string {
  return value.length >= 16 ? `${value.slice(0, 4)}… (${value.length} chars)` : `**** (${value.length} chars)`;
}

/** A URL with its password masked (postgres://arb:****@db:5432/arb). */
function maskUrlPassword(value: string): string {
  try {
    const u = new URL(value);
    if (!u.password) return value;
    u.password = '****';
    return u.toString();
  } catch {
    return value.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:****@');
  }
}

function shownValue(name: string, value: string): string {
  if (value === '') return '';
  if (isSecretName(name)) return maskSecret(value);
  if (/_URL$/.test(name)) return maskUrlPassword(value);
  return value;
}

/** The effective configuration and the source of every value. */
export function configSources(processEnv: Env = process.env): ConfigSources {
  const envFile = resolve(processEnv.ARB_ENV_FILE ?? '.env');
  const envFileFound = existsSync(envFile);
  const fromFile: Env = envFileFound ? parse(readFileSync(envFile, 'utf8')) : {};
  const known = new Set<string>(CONFIG_VARIABLES.map(([name]) => name));
  const values = CONFIG_VARIABLES.map(([name, fallback, description]): ConfigValue => {
    const secret = isSecretName(name);
    const env = processEnv[name];
    const file = fromFile[name];
    if (env !== undefined && env.trim() !== '') return { name, shown: shownValue(name, env.trim()), source: 'environment', secret, description };
    const emptyInEnv = env !== undefined;
    if (!emptyInEnv && file !== undefined && file.trim() !== '') return { name, shown: shownValue(name, file.trim()), source: '.env', secret, description };
    const note = emptyInEnv && file !== undefined && file.trim() !== '' ? 'empty in the environment, which overrides .env' : undefined;
    return { name, shown: shownValue(name, fallback), source: 'default', secret, description, ...(note ? { note } : {}) };
  });
  return { envFile, envFileFound, values, unknownInEnvFile: Object.keys(fromFile).filter((k) => !known.has(k)) };
}
