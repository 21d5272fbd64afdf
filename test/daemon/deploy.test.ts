import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/db.js';

const deploy = new URL('../../daemon/deploy/', import.meta.url).pathname;
const nginx = ['/usr/sbin/nginx', 'nginx'].find((bin) => spawnSync(bin, ['-v']).status === 0);

test('nginx-lb.conf passes nginx -t', { skip: nginx ? false : 'nginx is not installed (apt-get install nginx-light; .ci/run installs it)' }, (t) => {
  const dir = tempDir(t);
  const r = spawnSync(nginx!, ['-t', '-c', join(deploy, 'nginx-lb.conf'), '-p', dir, '-g', `pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')};`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /syntax is ok/);
  assert.match(r.stderr, /test is successful/);
});

test('the deployment files agree with each other', () => {
  const nginxConf = readFileSync(join(deploy, 'nginx-lb.conf'), 'utf8');
  const scale = readFileSync(join(deploy, 'docker-compose.scale.yml'), 'utf8');
  const prod = readFileSync(join(deploy, 'docker-compose.prod.yml'), 'utf8');
  const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
  for (const port of ['8001', '8002', '8003']) {
    assert.match(nginxConf, new RegExp(`server 127\\.0\\.0\\.1:${port}`));
    assert.match(scale, new RegExp(`PORT: "${port}"`));
  }
  assert.match(scale, /DATABASE_URL: "postgres:\/\//);
  assert.match(scale, /REDIS_HOST: 127\.0\.0\.1/);
  assert.match(nginxConf, /proxy_buffering off/, 'streams are not buffered');
  assert.match(prod, /dockerfile: daemon\/deploy\/Dockerfile/);
  assert.match(dockerfile, /CMD \["node", "bin\/arb\.js", "daemon"\]/);
  assert.match(dockerfile, /npm ci/);
});
