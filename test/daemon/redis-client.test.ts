/**
 * The daemon's Redis client (daemon/redis.ts): start waits for the connection, or not longer than its timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../../src/logger.js';
import { startRedis } from '../../daemon/redis.js';
import { freePort, HAVE_REDIS_SERVER, REDIS_SERVER_SKIP, startTestRedis } from '../support/redis.js';

const logger = createSilentLogger();

test('redis: start waits for the connection; an unreachable Redis does not hold the start longer than its timeout', async (t) => {
  if (!HAVE_REDIS_SERVER) return t.skip(String(REDIS_SERVER_SKIP));
  const redis = await startTestRedis(t);
  const up = await startRedis({ host: '127.0.0.1', port: redis.port, password: undefined }, { logger });
  assert.equal(up.client.status, 'ready');
  assert.equal(await up.client.ping(), 'PONG');
  await up.stop();
  await assert.rejects(up.client.ping(), 'stopped: no more commands');

  const began = Date.now();
  const down = await startRedis({ host: '127.0.0.1', port: await freePort(), password: undefined }, { logger, readyTimeoutMs: 200 });
  assert.notEqual(down.client.status, 'ready');
  assert.ok(Date.now() - began < 5_000);
  await down.stop();
});
