/**
 * The daemon's Redis client (REDIS_HOST set): rate limits and the bot's per-user limit shared by the
 * replicas. Start waits up to `readyTimeoutMs` for the connection; a Redis slow to come up does not hold
 * the daemon (the limits fall back to this process until it is ready). A hung Redis counts as down:
 * commands time out after 1 s instead of stalling requests.
 */
import { Redis } from 'ioredis';
import type { Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';

export interface RedisConnection {
  readonly client: Redis;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  logger: Logger;
  /** how long start waits for the first connection, default 3 s */
  readyTimeoutMs?: number;
}

export async function startRedis(redis: NonNullable<Config['redis']>, options: StartRedisOptions): Promise<RedisConnection> {
  const { logger } = options;
  const client = new Redis({
    host: redis.host,
    port: redis.port,
    password: redis.password,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 1_000,
    lazyConnect: false,
  });
  client.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis error (rate limits fall back to this process)'));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, options.readyTimeoutMs ?? 3_000);
    timer.unref();
    function done() {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    }
    if (client.status === 'ready') done();
    else client.once('ready', done);
  });
  if (client.status !== 'ready') logger.warn({ redis_status: client.status }, 'redis is not ready yet: rate limits are per process until it is');
  return {
    client,
    async stop() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
