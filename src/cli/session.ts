import { MAX_TIMER_MS } from '../clock.ts';
import { stopBegun } from './processGuards.ts';
import { wrapLine } from './wrapText.ts';
import type { FlowRunHandle } from '../runtime/runFlow.ts';
import type { FlowRunRecord } from '../records.ts';
import { useColor } from './ansi.ts';
import { UsageError } from './command.ts';
import { routeProcessOutput, ttyTerminal, type LiveTerminal } from './liveRegion.ts';
import { liveProgress, lineProgress, summary, type ProgressView } from './progress.ts';
import { runRecordToJson } from './serialize.ts';
import { shellWord } from '../shellWord.ts';
import { continueCommand } from './hints.ts';
import { StoreConnectionError, StoreError } from '../stores/errors.ts';
import { markLogged } from './loggedErrors.ts';

/**
 * How a command shows a run and what it prints when the run ends (see {@link openSession}).
 *
 * @example
 * ```ts
 * const options: SessionOptions = { flowId: 'etl', json: false, view: 'auto', graceMs: 10_000, durable: true, stdout, stderr };
 * ```
 */
export interface SessionOptions {
  /** The flow's id, shown by the view. */
  readonly flowId: string;
  /** `--json`: no progress, the run record as JSON at the end. */
  readonly json: boolean;
  /** `--view`: `auto` (live on a terminal, lines otherwise), `live`, `lines` or `none`. */
  readonly view: string;
  /** `--grace`: how long running attempts get to finish or checkpoint after SIGINT/SIGTERM, in ms. */
  readonly graceMs: number;
  /** Whether the run is kept in a store (so it can be resumed after an interrupt). */
  readonly durable: boolean;
  /**
   * The `--store` to repeat in the commands the CLI prints (so they work when pasted); `undefined`
   * for the default store.
   * @default undefined
   */
  readonly store?: string;
  /**
   * How the first progress line describes the run: `started` or `resumed`.
   * @default 'started'
   */
  readonly verb?: string;
  /**
   * Where the run's attempts run. With `'workers'` a signal lets go of the run at once (its
   * attempts go on on the workers, which do not hear `preempt`) and a worker takes it over.
   * @default 'local'
   */
  readonly executor?: 'local' | 'workers';
  /** Writes to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /**
   * Where the live view draws.
   * @default `process.stdout`, with whatever else the process writes printed above the frame
   */
  readonly terminal?: LiveTerminal;
  /**
   * Whether the runtime's own notices (`taskmachine: …` lines of the run's log) are wrapped at
   * spaces to 80 columns, so a terminal does not cut them mid-word above the live view.
   * @default whether standard error is a terminal
   */
  readonly wrapNotices?: boolean;
}

/**
 * Parses `--lease-ttl`.
 *
 * @example
 * ```ts
 * parseLeaseTtl('30000', 'run'); // 30000
 * ```
 */
export function parseLeaseTtl(text: string, command: string): number {
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 100 || ms > MAX_TIMER_MS) {
    throw new UsageError(`${command}: --lease-ttl must be a number of ms from 100 to ${MAX_TIMER_MS} (about 24.8 days), got '${text}'.`);
  }
  return ms;
}

/**
 * Parses `--grace`.
 *
 * @example
 * ```ts
 * parseGrace('2500', 'run'); // 2500; 'soon' throws a UsageError
 * ```
 */
export function parseGrace(text: string, command: string): number {
  const graceMs = Number(text);
  // (The stop's own deadline is --grace + STOP_BOUND_MS: that must fit a timer too.)
  const most = MAX_TIMER_MS - STOP_BOUND_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0 || graceMs > most) {
    throw new UsageError(`${command}: --grace must be a number of ms from 0 to ${most} (about 24.8 days), got '${text}'.`);
  }
  return graceMs;
}

/**
 * Parses `--concurrency`.
 *
 * @example
 * ```ts
 * parseConcurrency('4', 'run'); // 4; '0' and 'many' throw a UsageError
 * ```
 */
export function parseConcurrency(text: string, command: string): number {
  const concurrency = Number(text);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(`${command}: --concurrency must be a whole number ≥ 1, got '${text}'.`);
  }
  return concurrency;
}

/**
 * A command's output while it runs a flow: {@link Session.log} for the lines the run logs, and
 * {@link Session.run} to show the run until it ends.
 *
 * @example
 * ```ts
 * const session = openSession({ flowId: 'etl', json: false, view: 'auto', graceMs: 10_000, durable: true, stdout, stderr });
 * const handle = startFlow(etl, { store, log: session.log });
 * process.exitCode = await session.run(handle);
 * ```
 */
export interface Session {
  /**
   * Prints a line the run logs (`ctx().log`, the runtime's warnings) to stderr; while the live
   * view is shown, above its frame, so that no redraw erases it.
   */
  readonly log: (line: string) => void;
  /**
   * Shows the run's progress until it settles and returns the exit code. SIGINT/SIGTERM shut the
   * run down gracefully (running attempts are aborted with reason 'preempt' and get `graceMs` to
   * checkpoint), print how to resume it, and exit 130/143 — at the latest {@link STOP_BOUND_MS}
   * after the grace period, whatever task or listener code still holds; a second signal exits at
   * once (the store is transactional, so what is in it stays consistent).
   */
  run(handle: FlowRunHandle): Promise<number>;
}

/**
 * After SIGINT/SIGTERM, how long past `--grace` a stopping run gets to store its last turn, give
 * its listeners their last hooks and let go of its lease before the CLI exits anyway (130/143).
 * The store is transactional, so exiting then loses nothing committed; it bounds how long a
 * listener that never settles (or anything else stuck after the grace period) can hold the
 * process, which otherwise waits for `listenerTimeout` (30 s).
 */
export const STOP_BOUND_MS = 5_000;

/** Which view `--view` asks for: `auto` is the live view on a terminal that can move its cursor. */
function chooseView(options: SessionOptions): string {
  if (options.json) return 'none';
  if (options.view !== 'auto') return options.view;
  return process.stdout.isTTY === true && process.env.TERM !== 'dumb' ? 'live' : 'lines';
}

/**
 * Opens the output of a command that runs a flow (see {@link Session}). The live view owns the
 * terminal while it is shown: the run's log lines, the CLI's own messages and whatever else the
 * process writes to stdout or stderr (a task's `console.log`) are printed above its frame.
 *
 * @example
 * ```ts
 * const session = openSession({ flowId: 'etl', json: false, view: 'auto', graceMs: 10_000, durable: true, stdout, stderr });
 * const handle = startFlow(etl, { log: session.log });
 * return await session.run(handle);
 * ```
 */
export function openSession(options: SessionOptions): Session {
  const { stdout, stderr } = options;
  let print = (text: string, write: (text: string) => void) => write(text);
  // The last lines of the run's log, to tell whether the error a run stopped on was printed.
  const recent: string[] = [];
  const wrapNotices = options.wrapNotices ?? process.stderr.isTTY === true;
  return {
    log: (line) => {
      recent.push(line);
      if (recent.length > 8) recent.shift();
      // (Task code's own lines are printed as they are: they may be meant for a machine.)
      print(`${wrapNotices && line.startsWith('taskmachine') ? wrapLine(line) : line}\n`, stderr);
    },
    async run(handle) {
      const view = chooseView(options);
      let restoreOutput = () => {};
      let progress: ProgressView | undefined;
      if (view === 'live') {
        const terminal = options.terminal ?? ttyTerminal(process.stdout);
        const live = liveProgress(handle, options.flowId, terminal, Date.now, useColor(process.stdout.isTTY === true), {
          ...(options.verb !== undefined ? { verb: options.verb } : {}),
        });
        progress = live;
        print = (text, write) => live.print(text, write);
        // Started after the terminal took the stream's own write, so the frame is not routed.
        if (options.terminal === undefined) restoreOutput = routeProcessOutput(print);
      } else if (view === 'lines') {
        progress = lineProgress(handle, options.flowId, stdout, Date.now, options.verb);
      }
      const stop = (record: FlowRunRecord) => {
        progress?.stop(record);
        restoreOutput();
        print = (text, write) => write(text);
      };
      const storeArg = options.store === undefined ? '' : ` --store ${shellWord(options.store)}`;
      const onWorkers = options.executor === 'workers';
      const stopped = (runId: string) =>
        onWorkers
          ? `${wrapLine(`run ${runId} let go of: its attempts go on on the workers, and a worker with this flow takes the run over within about 2 s. Follow it with:`)}\n` +
            `  taskmachine status ${shellWord(runId)}${storeArg}\nIf no worker runs, continue it here with:\n  taskmachine resume ${shellWord(runId)}${storeArg}\n`
          : options.durable
            ? `run ${runId} stopped; continue it with:\n  taskmachine resume ${shellWord(runId)}${storeArg}\n`
            : `run ${runId} stopped (it was not kept: --store memory).\n`;
      let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
      let stopDeadline: ReturnType<typeof setTimeout> | undefined;
      let onShutdown!: (record: Promise<FlowRunRecord>) => void;
      const shutdown = new Promise<FlowRunRecord>((resolve) => {
        onShutdown = (record) => resolve(record);
      });
      /** Exits now with the signal's code: the store holds every committed turn, the attempts still running are interruptions. */
      const exitNow = (signal: 'SIGINT' | 'SIGTERM', why: string): never => {
        const kept = options.durable ? ' (the store keeps every committed turn)' : '';
        print(`${view === 'live' ? '' : '\n'}${signal}${why}: exiting now${kept}.\n${stopped(handle.runId)}`, stderr);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
        // A second signal is a person who does not want to wait for the grace period.
        if (interrupted !== undefined) return exitNow(signal, ' again');
        interrupted = signal;
        stopBegun();
        // On the live view the frame's redraw takes away the ^C the terminal echoed; on lines, start a new line.
        print(
          onWorkers
            ? `${view === 'live' ? '' : '\n'}${wrapLine(`${signal}: letting go of the run — its attempts go on on the workers (send it again to exit at once)`)}\n`
            : `${view === 'live' ? '' : '\n'}${wrapLine(`${signal}: stopping — running attempts get ${options.graceMs} ms to finish or checkpoint (send it again to exit at once)`)}\n`,
          stderr,
        );
        // Attempts on workers do not stop (and need no grace): the run is let go of at once.
        onShutdown(handle.shutdown({ graceMs: onWorkers ? 0 : options.graceMs }));
        // Referenced on purpose: whatever the run waits for then, the process ends with 130/143.
        const graceMs = onWorkers ? 0 : options.graceMs;
        stopDeadline = setTimeout(
          () =>
            exitNow(signal, ` (the run did not let go within ${onWorkers ? '' : `--grace ${graceMs} ms + `}${STOP_BOUND_MS} ms: a listener or the store is still busy)`),
          graceMs + STOP_BOUND_MS,
        );
      };
      let opened = false;
      handle.ready().then(
        () => (opened = true),
        () => {},
      );
      const onInt = () => onSignal('SIGINT');
      const onTerm = () => onSignal('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      try {
        let record: FlowRunRecord;
        try {
          record = await Promise.race([handle.settled(), shutdown]);
        } catch (error) {
          // Printed already by the run's own line (with its id): not again by the CLI's printer.
          if (error instanceof Error && recent.some((line) => line.includes(error.message))) markLogged(error);
          // The store failed under a run it had opened (locked, disk full, connection gone): the
          // store holds every committed turn, and a resume goes on from there once it is fixed.
          if (options.durable && opened && resumableStoreFailure(error)) {
            stop(handle.snapshot());
            stderr(
              `${wrapLine(`run ${handle.runId} stopped on that store error.`)}\nOnce the store can be written again, continue it with:\n` +
                `  taskmachine resume ${shellWord(handle.runId)}${storeArg}\n`,
            );
          }
          throw error;
        }
        await handle.persisted();
        // A run that waits for a manual resume or an event is let go of (its lease released), so
        // the commands printed below can continue it from another process at once.
        if (interrupted === undefined && record.state === 'running') record = await handle.shutdown({ graceMs: 0 });
        stop(record);
        if (interrupted !== undefined) {
          // Its last attempts may have ended within --grace: then there is nothing to continue.
          const ended = record.state === 'success' || record.state === 'failed';
          stderr(
            ended
              ? `run ${record.runId} ended ${record.state} while it was stopping: there is nothing to resume.\n`
              : record.waitingOn.length > 0 && options.durable && !onWorkers
                ? waitingAfterStop(record, storeArg)
                : stopped(record.runId),
          );
          return interrupted === 'SIGINT' ? 130 : 143;
        }
        if (options.json) stdout(`${runRecordToJson(record)}\n`);
        else if (progress === undefined) stderr(summary(record, runDuration(record), false));
        if (record.state === 'running' && options.durable && !options.json) {
          stdout(record.waitingOn.map((key) => `  ${continueCommand(record.runId, { key, state: record.tasks[key]?.state ?? 'checkpointed' }, storeArg)}\n`).join(''));
        }
        if (options.durable && !options.json) stdout(failedLogsHint(record, storeArg));
        return record.state === 'success' ? 0 : 1;
      } finally {
        clearTimeout(stopDeadline);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        restoreOutput();
      }
    },
  };
}

/**
 * A run stopped while tasks wait on a person (a task that answered the stop's `preempt` with
 * `TaskCheckpointed`, say): the commands that answer them continue the whole run too, so they are
 * what to paste; `resume` alone would only stop at them again.
 */
function waitingAfterStop(record: FlowRunRecord, storeArg: string): string {
  const keys = record.waitingOn;
  const commands = keys.map((key) => `  ${continueCommand(record.runId, { key, state: record.tasks[key]?.state ?? 'checkpointed' }, storeArg)}\n`);
  const named = keys.length <= 3 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')} and ${keys.length - 3} more`;
  return (
    `${wrapLine(`run ${record.runId} stopped; it waits on ${named}. Continue it with${keys.length === 1 ? '' : ' any of'}:`)}\n${commands.join('')}` +
    `To run the rest without answering ${keys.length === 1 ? 'it' : 'them'}:\n  taskmachine resume ${shellWord(record.runId)}${storeArg}\n`
  );
}

/**
 * A store error a resume gets past once its cause is gone: not damage, not another process
 * taking the run over (`LeaseLostError`, a conflict), not a value or row the store refuses.
 */
function resumableStoreFailure(error: unknown): boolean {
  return error instanceof StoreConnectionError || (error instanceof Error && error.constructor === StoreError);
}

/** Failed tasks shown with the command that prints what they logged (at most 5; then the run's). */
function failedLogsHint(record: FlowRunRecord, storeArg: string): string {
  const failed = Object.values(record.tasks).filter((instance) => instance.state === 'failed');
  if (failed.length === 0) return '';
  const run = shellWord(record.runId);
  const lines = failed.slice(0, 5).map((instance) => `  taskmachine logs ${run} ${shellWord(instance.key)}${storeArg}\n`);
  if (failed.length > 5) lines.push(`  taskmachine logs ${run}${storeArg}   # all ${failed.length} failed tasks and the rest\n`);
  return `what the failed task${failed.length === 1 ? '' : 's'} logged:\n${lines.join('')}`;
}

/** How long the run took by its own record (0 when it never started). */
function runDuration(record: FlowRunRecord): number {
  return record.startedAt === undefined ? 0 : (record.endedAt ?? record.startedAt) - record.startedAt;
}

/** Re-exported for the commands that print hints. */
export { shellWord };
