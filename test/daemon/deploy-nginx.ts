/**
 * Running daemon/deploy/nginx-lb.conf for real in tests: a self-signed certificate (openssl), a tiny DNS
 * server standing in for Docker's (it answers the service name `app` with every replica's address), and
 * the config with only its host-specific values replaced — listen ports, certificate and log paths, the
 * resolver address and the replicas' port. Each replacement must find its target, so the test breaks if
 * the deploy file changes shape.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export const DEPLOY_DIR = new URL('../../daemon/deploy/', import.meta.url).pathname;
export const NGINX = ['/usr/sbin/nginx', 'nginx'].find((bin) => spawnSync(bin, ['-v']).status === 0);
export const OPENSSL = spawnSync('openssl', ['version']).status === 0;
export const NGINX_SKIP = !NGINX ? 'nginx is not installed (apt-get install nginx-light; .ci/run installs it)' : !OPENSSL ? 'openssl is not installed' : false;

type After = { after: (fn: () => Promise<void> | void) => void };

/** A self-signed certificate for localhost / 127.0.0.1 in `dir` (cert.pem, key.pem). */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** A DNS server on 127.0.0.1 answering A queries for `name` with `addresses`; NXDOMAIN otherwise. */
export async function startDns(t: After, name: string, addresses: string[]): Promise<{ port: number; queries: () => number }> {
  const socket = createSocket('udp4');
  let queries = 0;
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    queries++;
    // question: labels from offset 12, then type and class
    let i = 12;
    const labels: string[] = [];
    while (i < msg.length && msg[i] !== 0) {
      labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString('latin1'));
      i += msg[i] + 1;
    }
    const questionEnd = i + 5;
    const type = msg.readUInt16BE(i + 1);
    const match = labels.join('.').toLowerCase() === name && type === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (match ? 0 : 3), 2); // response, recursion desired+available, NXDOMAIN when no match
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(match ? addresses.length : 0, 6);
    const answers = match
      ? addresses.map((a) => {
          const rr = Buffer.alloc(16);
          rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
          rr.writeUInt16BE(1, 2); // A
          rr.writeUInt16BE(1, 4); // IN
          rr.writeUInt32BE(5, 6); // TTL
          rr.writeUInt16BE(4, 10);
          a.split('.').forEach((octet, k) => rr.writeUInt8(Number(octet), 12 + k));
          return rr;
        })
      : [];
    socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, queries: () => queries };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface NginxSite {
  /** listen ports (HTTP, HTTPS) */
  httpPort?: number;
  httpsPort?: number;
  cert: string;
  key: string;
  /** DNS server for `resolver` */
  dnsPort?: number;
  /** the replicas' port (replaces app:8000's) */
  appPort?: number;
  dir: string;
}

function replaceOnce(text: string, needle: string, replacement: string): string {
  if (!text.includes(needle)) throw new Error(`nginx-lb.conf no longer contains ${JSON.stringify(needle)}: update test/daemon/deploy-nginx.ts with it`);
  return text.split(needle).join(replacement);
}

/** nginx-lb.conf with this machine's paths and ports; written to `dir/nginx.conf`. */
export function siteConfig(site: NginxSite): string {
  let conf = readFileSync(join(DEPLOY_DIR, 'nginx-lb.conf'), 'utf8');
  conf = replaceOnce(conf, '/etc/letsencrypt/live/arb/fullchain.pem', site.cert);
  conf = replaceOnce(conf, '/etc/letsencrypt/live/arb/privkey.pem', site.key);
  conf = replaceOnce(conf, '/var/log/nginx/access.log', join(site.dir, 'access.log'));
  conf = replaceOnce(conf, '/var/www/certbot', join(site.dir, 'certbot'));
  if (site.httpPort) conf = replaceOnce(conf, 'listen 80;', `listen 127.0.0.1:${site.httpPort};`);
  if (site.httpsPort) conf = replaceOnce(conf, 'listen 443 ssl;', `listen 127.0.0.1:${site.httpsPort} ssl;`);
  if (site.dnsPort) conf = replaceOnce(conf, 'resolver 127.0.0.11 ', `resolver 127.0.0.1:${site.dnsPort} `);
  if (site.appPort) conf = replaceOnce(conf, 'set $arb_app app:8000;', `set $arb_app app:${site.appPort};`);
  const file = join(site.dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/** The -g directives that keep nginx's pid and error log in `dir`, in the foreground. */
export function nginxGlobals(dir: string, foreground = false): string {
  return `${foreground ? 'daemon off; ' : ''}pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')};`;
}

/** Starts nginx on the site's config; resolves once the HTTPS port accepts connections. Stopped in t.after. */
export async function startNginx(t: After, site: NginxSite & { httpsPort: number }): Promise<ChildProcess> {
  mkdirSync(join(site.dir, 'certbot'), { recursive: true });
  chmodSync(site.dir, 0o755); // worker processes (nobody) use the temp directories under the prefix
  const conf = siteConfig(site);
  const child = spawn(NGINX!, ['-c', conf, '-p', site.dir, '-g', nginxGlobals(site.dir, true)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${readFileSafe(join(site.dir, 'error.log'))}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(site.httpsPort, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${site.httpsPort}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
