/**
 * Operational alerts to the admins (SPEC §9): the rules of src/alerts run every 5 minutes on the leader
 * replica. What to send is decided by a pure function, `scheduleAlerts`: a rule that starts firing is sent
 * at once, a rule that keeps firing is reminded hourly, a rule that stopped firing is forgotten (so it is
 * sent at once when it fires again). `startAlertLoop` runs the rules and sends what the schedule says.
 */
import type { Config } from '../src/config.js';
import type { DbHandle } from '../src/db/dialect.js';
import type { Logger } from '../src/logger.js';
import type { OpenRouterClient } from '../src/catalog/openrouter.js';

/** An alert that fires: a rule name (for de-duplication) and the text for the admins. */
export interface FiringAlert {
  rule: string;
  message: string;
}

/** Runs the alert rules once; returns the rules that fire. */
export type AlertsRunner = (deps: { config: Config; handle: DbHandle; logger: Logger; openrouter: OpenRouterClient }) => Promise<FiringAlert[]>;

/** What the scheduler remembers of a firing rule. */
export interface AlertMemory {
  /** ms epoch of the first run it fired in (this streak) */
  firstFiredAt: number;
  /** ms epoch it was last sent */
  lastSentAt: number;
}

export interface AlertSchedule {
  /** the texts to send to the admins now, in rule order */
  messages: string[];
  /** the memory for the next run: firing rules only */
  memory: Map<string, AlertMemory>;
}

export const REMIND_EVERY_MS = 60 * 60_000;

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 90 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

/** The pure schedule: rules firing now and what was sent before in; messages and the new memory out. */
export function scheduleAlerts(firing: readonly FiringAlert[], memory: ReadonlyMap<string, AlertMemory>, now: number, remindEveryMs = REMIND_EVERY_MS): AlertSchedule {
  const next = new Map<string, AlertMemory>();
  const messages: string[] = [];
  for (const alert of firing) {
    if (next.has(alert.rule)) continue;
    const seen = memory.get(alert.rule);
    if (!seen) {
      messages.push(`⚠️ ${alert.message}`);
      next.set(alert.rule, { firstFiredAt: now, lastSentAt: now });
    } else if (now - seen.lastSentAt >= remindEveryMs) {
      messages.push(`⚠️ Still firing after ${duration(now - seen.firstFiredAt)}: ${alert.message}`);
      next.set(alert.rule, { firstFiredAt: seen.firstFiredAt, lastSentAt: now });
    } else {
      next.set(alert.rule, seen);
    }
  }
  return { messages, memory: next };
}

export interface AlertLoopOptions {
  /** runs the rules once */
  evaluate: () => Promise<FiringAlert[]>;
  /** sends one text to every admin (the bot, when it runs) */
  notify: (text: string) => Promise<void> | void;
  /** only the leader replica runs the rules for the whole cluster */
  isLeader: () => boolean;
  logger: Logger;
  /** default 5 minutes */
  intervalMs?: number;
  remindEveryMs?: number;
  now?: () => number;
}

export interface AlertLoop {
  /** one run now (what the timer does) */
  runOnce(): Promise<void>;
  stop(): void;
}

export function startAlertLoop(options: AlertLoopOptions): AlertLoop {
  const now = options.now ?? Date.now;
  let memory = new Map<string, AlertMemory>();
  let stopped = false;
  const runOnce = async () => {
    if (stopped || !options.isLeader()) return;
    try {
      const firing = await options.evaluate();
      for (const alert of firing) options.logger.warn({ alert: true, rule: alert.rule }, `alert: ${alert.message}`);
      const schedule = scheduleAlerts(firing, memory, now(), options.remindEveryMs);
      memory = schedule.memory;
      for (const text of schedule.messages) await options.notify(text);
    } catch (err) {
      options.logger.error({ err }, 'alert rules failed');
    }
  };
  const timer = setInterval(() => void runOnce(), options.intervalMs ?? 5 * 60_000);
  timer.unref();
  return {
    runOnce,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The alert rules of src/alerts (also behind `arb alerts`): the rules that fire and are not skipped. */
export const defaultAlertsRunner: AlertsRunner = async ({ config, handle, openrouter }) => {
  const { evaluateAlerts } = await import('../src/alerts/alerts.js');
  const results = await evaluateAlerts({
    handle,
    logDir: config.logDir,
    creditRemainingMicros: config.openrouterApiKey ? () => openrouter.creditRemainingMicros() : undefined,
  });
  return results.filter((r) => !r.ok && !r.skipped).map((r) => ({ rule: r.rule, message: r.message }));
};
