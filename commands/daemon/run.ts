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
  // A signal that arrives while the daemon starts (it may already be listening and have printed its
  // banner) is kept, not left to the default action that would kill it without draining: it stops the
  // daemon as soon as the start is complete. The keeper goes only after the real handlers are in place:
  // removing a signal's last listener drops a signal already caught but not yet dispatched.
  let early: NodeJS.Signals | undefined;
  const keep = (signal: NodeJS.Signals) => {
    early ??= signal;
  };
  const dropKeeper = () => {
    process.off('SIGTERM', keep);
    process.off('SIGINT', keep);
  };
  process.on('SIGTERM', keep);
  process.on('SIGINT', keep);
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({ config, host: opts.host, port, print });
  } catch (e) {
    dropKeeper();
    throw e;
  }
  await new Promise<void>((resolve) => {
    installSignalHandlers(daemon, resolve, print);
    dropKeeper();
    if (early) process.kill(process.pid, early);
  });
  print('arb daemon stopped');
}
