// What the `taskmachine` process does about what would otherwise kill it half-way: output it can
// no longer write (`run … | head -1`, a full disk) and errors no code caught (task code that did
// not await a promise, or threw in a timer callback). Node's defaults end the process at once —
// with a run still leased to it, orphaned until the lease expires. Here a run is always let go of.
import type { EventEmitter } from 'node:events';
import { wrapLine } from './wrapText.ts';

/** The parts of `process` the guards use (a fake in tests). */
export interface GuardedProcess extends Pick<EventEmitter, 'on'> {
  readonly stdout: Pick<EventEmitter, 'on'>;
  readonly stderr: Pick<EventEmitter, 'on'> & { write(text: string): unknown };
  /**
   * Asks the process to stop as on SIGTERM (the run is shut down gracefully and let go of); `false`
   * when a stop is under way already (then it goes on as it is: a second signal would cut it short).
   */
  readonly stop: () => boolean;
}

/** Whether the process's output streams still take writes. */
export interface OutputState {
  /** `true` once writing to stdout failed (its reader went away, the disk is full): writes are dropped. */
  readonly stdoutClosed: boolean;
  /** `true` once writing to stderr failed. */
  readonly stderrClosed: boolean;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return `a non-Error value: ${typeof error === 'string' ? JSON.stringify(error) : String(error)}`;
  } catch {
    return 'a value that cannot be printed';
  }
}

/**
 * Installs the guards on a process and returns its output state:
 * - stdout that fails (`EPIPE`: the reader of a pipe went away; `ENOSPC`; …) is dropped from then
 *   on and the process stops as on SIGTERM (a run is shut down gracefully and stays resumable;
 *   exit 143), after one line on stderr saying why — a reader that went away is the Unix way to
 *   say "enough", as SIGPIPE does for other programs;
 * - stderr that fails is dropped from then on;
 * - a rejected promise nothing handled is printed (with its stack) and the process goes on: a
 *   rejection unwinds nothing, and the attempt that left it behind ended or will end on its own;
 * - an exception nothing caught (thrown in a timer or event callback, outside any attempt) is
 *   printed and the process stops as on SIGTERM: the code that threw may have been half-way
 *   through something, and a graceful stop stores what was committed and lets go of the run.
 *
 * @example
 * ```ts
 * const output = guardProcess({ stdout: process.stdout, stderr: process.stderr, on: process.on.bind(process), stop: () => process.kill(process.pid, 'SIGTERM') });
 * if (!output.stdoutClosed) process.stdout.write('hello\n');
 * ```
 */
export function guardProcess(target: GuardedProcess): OutputState {
  const state = { stdoutClosed: false, stderrClosed: false };
  const say = (text: string): void => {
    if (state.stderrClosed) return;
    try {
      target.stderr.write(text);
    } catch {
      state.stderrClosed = true;
    }
  };
  const stopping = (): string => (target.stop() ? 'stopping as on SIGTERM' : 'the stop under way goes on');
  target.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (state.stdoutClosed) return;
    state.stdoutClosed = true;
    const what = error.code === 'EPIPE' ? 'its output was closed (the reader of the pipe went away)' : `cannot write its output (${error.code ?? error.name}: ${error.message})`;
    say(`${wrapLine(`taskmachine: ${what}: ${stopping()}`)}\n`);
  });
  target.stderr.on('error', () => {
    state.stderrClosed = true;
  });
  target.on('unhandledRejection', (reason: unknown) => {
    say(`${wrapLine('taskmachine: a promise was rejected and nothing handled it (task code that did not await or catch a promise?); going on. It was rejected with:')}\n${describe(reason)}\n`);
  });
  target.on('uncaughtException', (error: unknown) => {
    say(`${wrapLine(`taskmachine: an error was thrown outside any task attempt (in a timer or event callback of task code?); ${stopping()}. The error:`)}\n${describe(error)}\n`);
  });
  return state;
}

let stopUnderWay = false;

/**
 * Tells the guards that this process is stopping (a command got SIGINT/SIGTERM and shuts down
 * gracefully): from then on they do not send it SIGTERM — to the command that would be a second
 * signal, "exit at once", cutting the graceful stop short.
 *
 * @example
 * ```ts
 * process.once('SIGTERM', () => { stopBegun(); void worker.stop(); });
 * ```
 */
export function stopBegun(): void {
  stopUnderWay = true;
}

let installed: OutputState | undefined;

/** The guards of this process (installed once, on first use): see {@link guardProcess}. */
export function guardThisProcess(): OutputState {
  installed ??= guardProcess({
    stdout: process.stdout,
    stderr: process.stderr,
    on: process.on.bind(process),
    stop: () => {
      if (stopUnderWay) return false;
      stopUnderWay = true;
      process.kill(process.pid, 'SIGTERM');
      return true;
    },
  });
  return installed;
}
