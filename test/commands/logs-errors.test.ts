/** `arb logs errors` shows why a request failed and which request it was, at any terminal width. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb } from './support.js';

test('arb logs errors: the failure reason and the request id, whole at 80 and 120 columns; --output csv keeps them', async (t) => {
  const env = arbEnv(tempDir(t));
  mkdirSync(env.logDir, { recursive: true });
  const lines = [
    {
      timestamp: '2026-12-01T08:00:00.000Z',
      level: 'ERROR',
      api_call: true,
      service: 'proxy',
      endpoint: '/v1/chat/completions',
      status: 502,
      success: false,
      request_id: 'req_0193aa55bb66cc77dd88ee99',
      failure: 'upstream status 500',
      message: 'api call',
    },
    { timestamp: '2026-12-01T08:05:00.000Z', level: 'ERROR', message: 'backup failed', err: { type: 'Error', message: 'ENOSPC: no space left on device' } },
    { timestamp: '2026-12-01T08:06:00.000Z', level: 'INFO', message: 'fine' },
  ];
  writeFileSync(join(env.logDir, 'arbitrage.log'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  for (const columns of ['80', '120']) {
    const r = await runArb(['logs', 'errors'], { ...env, env: { ...env.env, COLUMNS: columns } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^2026-12-01 08:00:00Z .*upstream status 500 +req_0193aa55bb66cc77dd88ee99/m, `${columns}: ${r.stdout}`);
    assert.match(r.stdout, /^2026-12-01 08:05:00Z .*ENOSPC: no space left on/m, columns);
    for (const line of r.stdout.trimEnd().split('\n')) assert.ok([...line].length <= Number(columns), `${columns}: ${line}`);
  }
  const csv = await runArb(['logs', 'errors', '--output', 'csv'], env);
  assert.match(csv.stdout, /,upstream status 500,|req_0193aa55bb66cc77dd88ee99/);
  const failures = await runArb(['logs', 'api-failures'], env);
  assert.match(failures.stdout, /upstream status 500 .*req_0193aa55bb66cc77dd88ee99/);
});
