/**
 * The deployment files, checked with what runs without a Docker engine: nginx -t on nginx-lb.conf (TLS
 * paths pointing at a test certificate), the compose files parsed as YAML and validated against the
 * Compose Specification's JSON schema (fixtures/compose-spec), and the promises the README and the
 * manual make about them (service `app`, replicas behind nginx, TLS, private database and Redis).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { tempDir } from '../support/db.js';
import { AGENT_BODY_BYTES } from '../../daemon/http/protocols/protocol.js';
import { DEPLOY_DIR, NGINX, NGINX_SKIP, nginxGlobals, selfSignedCert, siteConfig } from './deploy-nginx.js';

const read = (name: string) => readFileSync(join(DEPLOY_DIR, name), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  network_mode?: string;
  container_name?: string;
  env_file?: string;
  depends_on?: unknown;
}
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

function validator() {
  const schema = JSON.parse(readFileSync(new URL('../../fixtures/compose-spec/compose-spec.json', import.meta.url), 'utf8'));
  // this 2021 revision names the 2019-09 meta-schema by its old http URL (Ajv2019 knows it as https) and
  // labels its parts with draft-04's `id` (annotations only, refused by Ajv): both adapted here, every
  // rule is used as written
  assert.equal(schema.$schema, 'http://json-schema.org/draft/2019-09/schema#');
  delete schema.$schema;
  const dropIds = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (typeof o.id === 'string' && (o.id.startsWith('#/') || o.id === 'compose_spec.json')) delete o.id;
    for (const v of Object.values(o)) dropIds(v);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^((\d+(\.\d+)?)(us|ms|s|m|h))+$/);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  return ajv.compile(schema);
}

test('nginx-lb.conf passes nginx -t (certificate paths pointing at a test certificate)', { skip: NGINX_SKIP }, (t) => {
  const dir = tempDir(t);
  const { cert, key } = selfSignedCert(dir);
  const conf = siteConfig({ dir, cert, key });
  const r = spawnSync(NGINX!, ['-t', '-c', conf, '-p', dir, '-g', nginxGlobals(dir)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /syntax is ok/);
  assert.match(r.stderr, /test is successful/);
});

test("nginx-lb.conf: TLS with Let's Encrypt paths, HTTP -> HTTPS, HSTS, access log with request ids, the `app` service through Docker DNS", () => {
  const conf = read('nginx-lb.conf');
  assert.match(conf, /listen 443 ssl;/);
  assert.match(conf, /ssl_certificate \/etc\/letsencrypt\/live\/arb\/fullchain\.pem;/);
  assert.match(conf, /ssl_certificate_key \/etc\/letsencrypt\/live\/arb\/privkey\.pem;/);
  assert.match(conf, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
  assert.match(conf, /return 301 https:\/\/\$host\$request_uri;/);
  assert.match(conf, /add_header Strict-Transport-Security "max-age=\d+; includeSubDomains" always;/);
  assert.match(conf, /access_log \/var\/log\/nginx\/access\.log arb;/);
  assert.match(conf, /log_format arb [^;]*request_id=\$request_id[^;]*\$upstream_http_x_request_id/);
  assert.match(conf, /resolver 127\.0\.0\.11 valid=10s/);
  assert.match(conf, /set \$arb_app app:8000;/);
  assert.match(conf, /proxy_pass http:\/\/\$arb_app;/);
  assert.match(conf, /proxy_buffering off/, 'streams are not buffered');
  assert.doesNotMatch(conf, /non_idempotent/, 'a paid POST is never re-sent to another replica');
});

test('nginx-lb.conf lets through every body arb takes, so arb refuses an oversized one in the client protocol', () => {
  const m = /client_max_body_size (\d+)([km]?);/.exec(read('nginx-lb.conf'));
  assert.ok(m, 'client_max_body_size is set');
  const bytes = Number(m[1]) * ({ k: 1024, m: 1024 * 1024 } as Record<string, number>)[m[2]] || Number(m[1]);
  assert.ok(bytes > AGENT_BODY_BYTES, `client_max_body_size ${m[1]}${m[2]} is not above arb's ${AGENT_BODY_BYTES} bytes on /v1/messages and /v1/responses`);
});

test('compose files: valid against the Compose Specification schema; service `app` in both; replicas behind nginx; nothing private published', () => {
  const validate = validator();
  const files: Record<string, Compose> = {};
  for (const name of ['docker-compose.prod.yml', 'docker-compose.scale.yml']) {
    const doc = parse(read(name)) as Compose;
    assert.ok(validate(doc), `${name}: ${JSON.stringify(validate.errors, null, 1)}`);
    files[name] = doc;
  }
  // the schema is not a rubber stamp
  assert.equal(validate({ services: { app: { image: 'x', replicas: 3 } } }), false, 'a misplaced key is refused');
  assert.equal(validate({ services: { app: { deploy: { replicas: 'three' } } } }), false);

  for (const [name, doc] of Object.entries(files)) {
    const app = doc.services.app;
    assert.ok(app, `${name}: the manual's docker-compose restart app needs a service named app`);
    assert.equal(app.build?.dockerfile, 'daemon/deploy/Dockerfile');
    assert.equal(app.environment?.HOST, '0.0.0.0', `${name}: the daemon must listen beyond the container's loopback`);
    assert.equal(app.environment?.TRUST_PROXY, 'true', `${name}: behind nginx the client address comes from X-Forwarded-For`);
    assert.equal(app.env_file, '../../.env');
    const nginx = doc.services.nginx;
    assert.ok(nginx.volumes?.includes('./nginx-lb.conf:/etc/nginx/nginx.conf:ro'), `${name}: nginx runs nginx-lb.conf`);
    assert.ok(nginx.volumes?.includes('/etc/letsencrypt:/etc/letsencrypt:ro'));
    assert.deepEqual(nginx.ports, ['80:80', '443:443']);
    for (const s of Object.values(doc.services)) assert.equal(s.network_mode, undefined, `${name}: on the compose network (Docker DNS resolves app)`);
  }

  const prod = files['docker-compose.prod.yml'].services.app;
  assert.deepEqual(prod.ports, ['127.0.0.1:8000:8000'], "the daemon itself is published on the host's loopback only");
  assert.equal(prod.environment?.DB_NAME, '/data/arbitrage.db');

  const scale = files['docker-compose.scale.yml'].services;
  assert.equal(scale.app.deploy?.replicas, 3);
  assert.equal(scale.app.ports, undefined, 'replicas publish no port (they would collide): nginx reaches them');
  assert.equal(scale.app.container_name, undefined, 'a fixed container name cannot be scaled');
  assert.deepEqual(scale.app.expose, ['8000']);
  assert.match(scale.app.environment?.DATABASE_URL ?? '', /^postgres:\/\/arb:\$\{POSTGRES_PASSWORD\}@postgres:5432\/arb$/);
  assert.equal(scale.app.environment?.REDIS_HOST, 'redis');
  for (const s of ['postgres', 'redis']) assert.equal(scale[s].ports, undefined, `${s} is reachable by the replicas only`);
  assert.match(String((scale.postgres.environment ?? {}).POSTGRES_PASSWORD), /^\$\{POSTGRES_PASSWORD:\?/, 'no default database password');
});

test('Dockerfile: builds from the repository, runs the daemon as a user on all interfaces, data private', () => {
  const dockerfile = read('Dockerfile');
  assert.match(dockerfile, /CMD \["node", "bin\/arb\.js", "daemon"\]/);
  assert.match(dockerfile, /npm ci/);
  assert.match(dockerfile, /HOST=0\.0\.0\.0/);
  assert.match(dockerfile, /USER arb/);
  assert.match(dockerfile, /chmod 700 \/data/);
  assert.match(dockerfile, /postgresql-client/, 'pg_dump/pg_restore/psql for arb backup on PostgreSQL');
});
