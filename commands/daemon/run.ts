/**
 * `arb daemon` (= `npm start`): loads the config, starts the daemon (daemon/main.ts is the composition
 * root) and keeps it running until SIGTERM/SIGINT, which drain in-flight requests and stop it.
 */
import { loadConfig } from '../../src/config.js';
import { InputError } from '../../src/errors.js';

/** Parses a --port value; InputError naming the flag otherwise. */
export function parsePortOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InputError(`--port: "${value}" is not a port number; use 0-65535, e.g. --port 8000`, 'port');
  return Number(value);
}

export async function runDaemon(opts: { host?: string; port?: string }): Promise<void> {
  const config = loadConfig();
  const port = parsePortOption(opts.port, config.port);
  // The daemon process is this command's whole job: it is the one place the CLI reaches into daemon/.
  const { startDaemon, installSignalHandlers } = await import('../../daemon/main.js');
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const starting = startDaemon({ config, host: opts.host, port, print });
  // In place before the start can print its banner: a signal caught while the daemon starts stops it as soon as it is up.
  const stopped = new Promise<void>((resolve) => installSignalHandlers(starting, resolve, print));
  await starting; // a failed start throws here (its handlers are gone)
  await stopped;
  // (the token counter's thread, which daemon/main.ts starts, does not keep the process alive: it ends with it)
  print('arb daemon stopped');
}
