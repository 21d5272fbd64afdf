/**
 * How to start a worker thread on a module of this project: the compiled `.js` next to the calling module
 * (dist/), or, when running from the TypeScript sources, an eval'd entry that registers tsx first.
 */
export interface WorkerScript {
  script: string | URL;
  eval: boolean;
}

/**
 * The worker entry for module `name` (no extension) beside the module at `callerUrl` (its
 * `import.meta.url`); null when running from sources without tsx to load them.
 */
export function workerScript(callerUrl: string, name: string): WorkerScript | null {
  if (!callerUrl.endsWith('.ts')) return { script: new URL(`./${name}.js`, callerUrl), eval: false };
  try {
    const tsx = import.meta.resolve('tsx/esm/api');
    const source = new URL(`./${name}.ts`, callerUrl).href;
    return { script: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`, eval: true };
  } catch {
    return null;
  }
}
