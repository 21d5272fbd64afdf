/** `arb config show`: the effective configuration, secrets masked, with where each value came from. */
import { createConfig, readEnv } from '../../src/config.js';
import { configSources } from '../../src/config-sources.js';
import { ConfigError } from '../../src/errors.js';
import { writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';
import { paint } from '../ui/terminal.js';

export function runConfigShow(opts: { json?: boolean }, out: NodeJS.WritableStream = process.stdout): number {
  const sources = configSources();
  let problems: readonly string[] = [];
  try {
    createConfig(readEnv());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems = e.problems;
  }
  if (opts.json) {
    writeJson(out, {
      env_file: sources.envFile,
      env_file_found: sources.envFileFound,
      valid: problems.length === 0,
      problems,
      unknown_in_env_file: sources.unknownInEnvFile,
      variables: sources.values.map((v) => ({ name: v.name, value: v.shown, source: v.source, secret: v.secret, ...(v.note ? { note: v.note } : {}) })),
    });
    return problems.length === 0 ? 0 : 2;
  }
  const style = paint();
  out.write(
    `${renderTable(
      [
        { header: 'variable', priority: 0, keep: true },
        { header: 'value', priority: 1, min: 12 },
        { header: 'source', priority: 2, keep: true },
        { header: 'meaning', priority: 3 },
      ],
      sources.values.map((v) => [v.name, v.shown === '' ? style.dim('(unset)') : v.shown, v.note ? `${v.source} (${v.note})` : v.source, v.description]),
    )}\n`,
  );
  out.write(`.env: ${sources.envFile}${sources.envFileFound ? '' : ' (not found)'}; the environment overrides .env, .env overrides the defaults; secrets are masked\n`);
  if (sources.unknownInEnvFile.length) out.write(`note: .env sets ${sources.unknownInEnvFile.join(', ')}, which arb does not read (a typo?)\n`);
  if (problems.length) {
    out.write(`${style.red('invalid')}: ${problems.length} problem(s); arb config check explains them\n`);
    for (const p of problems) out.write(`  - ${p}\n`);
    return 2;
  }
  return 0;
}
