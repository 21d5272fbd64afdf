/**
 * Long polling of the Bot API, as a start/stop module. Telegram allows one getUpdates consumer per bot, so
 * with daemon replicas (`leadership`, src/scale/leader.ts) only the replica holding the leader lease polls:
 * it starts when this replica becomes the leader, stops when it steps down, and — while it leads — restarts
 * polling that failed (e.g. a 409 while the previous leader's last getUpdates was still open during a
 * hand-over) after `retryMs`. Without `leadership` it simply polls from start() to stop().
 */
import type { Bot } from 'grammy';
import type { Logger } from '../../src/logger.js';
import type { Leadership } from '../../src/scale/leader.js';
import { describeBotError } from './api-errors.js';

export interface BotPollingDeps {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bot: Bot<any>;
  logger: Logger;
  allowedUpdates: readonly string[];
  /** getUpdates timeout in seconds (default 30) */
  timeoutSeconds?: number;
  /** poll only while this replica leads (default: always) */
  leadership?: Pick<Leadership, 'isLeader' | 'onChange'>;
  /** wait before restarting polling that failed while leading, default 5 s */
  retryMs?: number;
}

export interface BotPolling {
  /** resolves once getUpdates runs (or, as a standby replica, at once); rejects when polling cannot start */
  start(): Promise<void>;
  /** stops polling and waits for the loop to end; idempotent */
  stop(): Promise<void>;
  /** true while the getUpdates loop runs */
  readonly running: boolean;
}

type Phase = 'idle' | 'started' | 'stopped';

export function createBotPolling(deps: BotPollingDeps): BotPolling {
  const { bot, logger, leadership } = deps;
  let phase: Phase = 'idle';
  /** the running bot.start() loop, when polling */
  let loop: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopping: Promise<void> | undefined;

  const username = () => bot.botInfo.username;

  /** starts the getUpdates loop; resolves once it runs */
  const startLoop = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (loop) return resolve();
      let confirmed = false;
      const run: Promise<void> = bot
        .start({
          allowed_updates: [...deps.allowedUpdates] as never,
          drop_pending_updates: false,
          timeout: deps.timeoutSeconds ?? 30,
          onStart: () => {
            confirmed = true;
            resolve();
          },
        })
        .catch((err: unknown) => {
          if (!confirmed) return reject(err);
          if (leadership?.isLeader && phase === 'started') {
            logger.error({ error: describeBotError(err) }, 'telegram long polling stopped with an error; this replica leads, so it polls again shortly');
            scheduleRetry();
          } else {
            logger.critical({ error: describeBotError(err) }, 'telegram long polling stopped with an error');
          }
        })
        .finally(() => {
          if (loop === run) loop = undefined;
        });
      loop = run;
    });

  const stopLoop = async () => {
    const running = loop;
    if (!running) return;
    try {
      await bot.stop();
    } catch (err) {
      logger.warn({ error: describeBotError(err) }, 'could not confirm the last update to Telegram on stop');
    }
    await running;
  };

  /** leadership: poll while this replica leads, retrying a failed start */
  const pollWhileLeader = async () => {
    if (phase !== 'started' || !leadership?.isLeader || loop) return;
    try {
      await startLoop();
      logger.info({ mode: 'polling', bot: username() }, 'telegram long polling started (this replica is the leader)');
    } catch (err) {
      logger.error({ error: describeBotError(err) }, 'telegram long polling could not start; retrying shortly');
      scheduleRetry();
    }
  };

  function scheduleRetry() {
    if (retryTimer || phase !== 'started') return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void pollWhileLeader();
    }, deps.retryMs ?? 5_000);
    retryTimer.unref();
  }

  return {
    get running() {
      return loop !== undefined;
    },
    async start() {
      if (phase !== 'idle') return;
      phase = 'started';
      if (!leadership) {
        await startLoop();
        logger.info({ mode: 'polling', bot: username() }, 'telegram bot started (long polling)');
        return;
      }
      unsubscribe = leadership.onChange((leader) => (leader ? pollWhileLeader() : stopLoop()));
      if (leadership.isLeader) {
        await startLoop();
        logger.info({ mode: 'polling', bot: username() }, 'telegram bot started (long polling; this replica is the leader)');
      } else {
        logger.info({ mode: 'polling', bot: username() }, 'telegram bot started (standby: another replica long-polls; this one takes over if it goes away)');
      }
    },
    stop() {
      stopping ??= (async () => {
        phase = 'stopped';
        unsubscribe?.();
        if (retryTimer) clearTimeout(retryTimer);
        await stopLoop();
      })();
      return stopping;
    },
  };
}
