/**
 * The only door to Ink. Every function here imports ink/react lazily and only on the interactive path,
 * so `--json` and non-TTY runs never load them (test/commands/lazy-ink.test.ts checks it).
 * Screens themselves (commands/screens/*.tsx) only render props.
 */
import type { ComponentType } from 'react';
import { InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';
import { screenWidth } from './terminal.js';

type ScreenContext = Pick<CommandContext, 'interactive' | 'stdout' | 'stderr'>;

async function loadInk(stdout?: NodeJS.WritableStream) {
  if (process.env.ARB_DEBUG_LOADS === '1') process.stderr.write('arb: loading ink\n');
  // a pseudo-terminal without a size (script, some CI shells) reports 0 columns; Ink lays out to that
  const out = stdout as { isTTY?: boolean; columns?: number; rows?: number } | undefined;
  if (out?.isTTY && !out.columns) out.columns = Number(process.env.COLUMNS) || 100;
  if (out?.isTTY && !out.rows) out.rows = Number(process.env.LINES) || 40;
  const [ink, react] = await Promise.all([import('ink'), import('react')]);
  return { ink, createElement: react.createElement };
}

/** Renders a static screen once (no terminal session) and writes it to stdout. */
export async function printScreen<P extends object>(ctx: ScreenContext, load: () => Promise<ComponentType<P>>, props: P): Promise<void> {
  const [{ ink, createElement }, Component] = await Promise.all([loadInk(ctx.stdout), load()]);
  const columns = screenWidth(ctx.stdout as { isTTY?: boolean; columns?: number });
  ctx.stdout.write(`${ink.renderToString(createElement(Component, { width: columns, ...props }), { columns })}\n`);
}

/** A screen redrawn in place (`--watch`): `update` renders new props, `close` leaves the last frame. */
export interface LiveScreen<P> {
  update(props: P): void;
  close(): Promise<void>;
}

/** Starts a live screen on the terminal; each update is laid out to the terminal's current width. */
export async function startLiveScreen<P extends object>(ctx: ScreenContext, load: () => Promise<ComponentType<P>>): Promise<LiveScreen<P>> {
  const [{ ink, createElement }, Component] = await Promise.all([loadInk(ctx.stdout), load()]);
  const out = ctx.stdout as NodeJS.WriteStream;
  const view = (props: P) => createElement(Component, { width: screenWidth(out), ...props });
  let instance: ReturnType<typeof ink.render> | undefined;
  let closed = false;
  return {
    update(props) {
      if (closed) return;
      if (instance) instance.rerender(view(props));
      else instance = ink.render(view(props), { stdout: out, patchConsole: false, exitOnCtrlC: false });
    },
    async close() {
      if (closed || !instance) return;
      closed = true;
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface ProgressStep {
  label: string;
  status: StepStatus;
  detail?: string;
}

export interface ProgressState {
  title: string;
  steps: ProgressStep[];
  /** 0..1 for the running step's bar; undefined = no bar */
  fraction?: number;
}

/** Reports progress of a multi-step operation; a no-op unless interactive. */
export interface Progress {
  /** marks step `index` as running (and every earlier pending step done) */
  start(index: number, detail?: string): void;
  /** updates the running step's bar (0..1) and detail */
  advance(fraction: number, detail?: string): void;
  finish(index: number, status?: Exclude<StepStatus, 'pending' | 'running'>, detail?: string): void;
  /** final render and unmount */
  close(): Promise<void>;
}

const NO_PROGRESS: Progress = { start() {}, advance() {}, finish() {}, async close() {} };

/** A progress screen on a TTY (ProgressScreen), nothing otherwise. */
export async function startProgress(ctx: ScreenContext, title: string, labels: readonly string[]): Promise<Progress> {
  if (!ctx.interactive) return NO_PROGRESS;
  const [{ ink, createElement }, { ProgressScreen }] = await Promise.all([loadInk(ctx.stdout), import('../screens/ProgressScreen.js')]);
  const state: ProgressState = { title, steps: labels.map((label) => ({ label, status: 'pending' })) };
  const view = () => createElement(ProgressScreen, { ...state, steps: state.steps.map((s) => ({ ...s })) });
  const instance = ink.render(view(), { stdout: ctx.stdout as NodeJS.WriteStream, patchConsole: false, exitOnCtrlC: true });
  const redraw = () => instance.rerender(view());
  let closed = false;
  return {
    start(index, detail) {
      state.steps.forEach((s, i) => {
        if (i < index && (s.status === 'pending' || s.status === 'running')) s.status = 'done';
      });
      state.steps[index] = { ...state.steps[index], status: 'running', detail };
      state.fraction = undefined;
      redraw();
    },
    advance(fraction, detail) {
      state.fraction = Math.max(0, Math.min(1, fraction));
      const running = state.steps.find((s) => s.status === 'running');
      if (running && detail !== undefined) running.detail = detail;
      redraw();
    },
    finish(index, status = 'done', detail) {
      state.steps[index] = { ...state.steps[index], status, detail: detail ?? state.steps[index].detail };
      state.fraction = undefined;
      redraw();
    },
    async close() {
      if (closed) return;
      closed = true;
      redraw();
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}

export interface ConfirmRequest {
  /** --yes given */
  yes?: boolean;
  /** "Replace the database with backup/arbitrage_latest.db?" */
  question: string;
  /** lines shown above the question */
  details?: string[];
  /** what to tell a non-TTY caller, e.g. "arb restore needs confirmation" */
  action: string;
}

/**
 * Asks before a destructive step. `--yes` skips it; without a terminal (or with --json) and without
 * --yes the command is refused with exit 2 and the fix. Resolves false when the operator says no.
 */
export async function confirm(ctx: ScreenContext, request: ConfirmRequest): Promise<boolean> {
  if (request.yes) return true;
  if (!ctx.interactive || !process.stdin.isTTY) {
    throw new InputError(`${request.action} needs confirmation and there is no terminal to ask on; rerun with --yes to confirm (nothing was changed)`, 'yes');
  }
  const [{ ink, createElement }, { ConfirmScreen }] = await Promise.all([loadInk(ctx.stdout), import('../screens/ConfirmScreen.js')]);
  return new Promise<boolean>((resolve) => {
    let answered = false;
    const instance = ink.render(
      createElement(ConfirmScreen, {
        question: request.question,
        details: request.details ?? [],
        onAnswer: (yes: boolean) => {
          if (answered) return;
          answered = true;
          instance.unmount();
          void instance.waitUntilExit().then(() => resolve(yes));
        },
      }),
      { stdout: ctx.stdout as NodeJS.WriteStream, patchConsole: false, exitOnCtrlC: false },
    );
  });
}
