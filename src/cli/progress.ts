import { allTaskInstanceStates, finishedStates, type TaskInstanceState } from '../../machines/index.ts';
import { wrapLine } from './wrapText.ts';
import type { FlowRunHandle } from '../runtime/runFlow.ts';
import type { FlowRunRecord, TaskInstanceChange } from '../records.ts';
import stringWidth from 'string-width';
import { bold, dim, paintState } from './ansi.ts';
import { createLiveRegion, fitLine, type LiveRegionOptions, type LiveTerminal } from './liveRegion.ts';

/**
 * Shows a run's progress while it runs. `print` puts a line of other output (a task's log line, a
 * message of the CLI) where it does not disturb the view; `stop` ends the view and prints the
 * summary.
 *
 * @example
 * ```ts
 * const view = lineProgress(handle, 'etl', (text) => process.stdout.write(text), Date.now);
 * view.print('[extract#1] 12 rows\n', (text) => process.stderr.write(text));
 * view.stop(await handle.settled());
 * ```
 */
export interface ProgressView {
  /**
   * Prints `text` (whole lines) through `write`, above the live view's frame while it is shown.
   * @param write Where the text goes. Default: where the view writes.
   */
  print(text: string, write?: (text: string) => void): void;
  /** Ends the view (the live frame is erased) and prints the run's summary. */
  stop(record: FlowRunRecord): void;
}

function firstLine(error: Error | undefined): string {
  if (error === undefined) return '';
  return `${error.name}: ${error.message.split('\n')[0]}`;
}

function elapsed(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds); // rounded once, so 119.6 s is 2m0s, not 1m60s
  return `${Math.floor(whole / 60)}m${whole % 60}s`;
}

/**
 * Plain progress lines (not a TTY, or `--view lines`): one line per task-instance change that a
 * person cares about — starts, outcomes, retries, parking — and a summary at the end. `print`
 * writes at once: there is no frame to keep out of the way.
 *
 * @example
 * ```ts
 * const view = lineProgress(handle, 'etl', (text) => process.stdout.write(text), Date.now);
 * // run 3f2a… of flow 'etl' started
 * // +0.0s running extract (attempt 1/4)
 * ```
 */
export function lineProgress(
  handle: FlowRunHandle,
  flowId: string,
  write: (text: string) => void,
  now: () => number,
  verb = 'started',
): ProgressView {
  const started = now();
  write(`run ${handle.runId} of flow '${flowId}' ${verb}\n`);
  const unsubscribe = handle.subscribe((change: TaskInstanceChange) => {
    const { taskInstance: ti, state } = change;
    const at = `+${elapsed(now() - started)}`;
    let line: string | undefined;
    if (change.msg === 'started') line = `running ${ti.key} (attempt ${ti.attempts}/${ti.maxAttempts})`;
    else if (state === 'queued' && ti.pendingGates?.length) line = `queued ${ti.key}, waiting on gate ${ti.pendingGates.join(', ')}`;
    else if (change.msg === 'success') line = `success ${ti.key}`;
    else if (change.msg === 'up_for_retry') line = `up_for_retry ${ti.key} after attempt ${ti.attempts}: ${firstLine(change.error)}`;
    else if (change.msg === 'failed') line = `failed ${ti.key}: ${firstLine(change.error)}`;
    else if (change.msg === 'skipped') line = `skipped ${ti.key} (by the task)`;
    else if (change.msg === 'checkpointed') line = `checkpointed ${ti.key}`;
    else if (change.msg?.startsWith('manually_set_to_')) line = `${state} ${ti.key} (set by hand)`;
    else if (state === 'upstream_failed' || state === 'deferred' || state === 'up_for_reschedule') line = `${state} ${ti.key}`;
    else if (state === 'skipped') line = `skipped ${ti.key} (trigger rule)`;
    if (line !== undefined) write(`${at} ${line}\n`);
  });
  return {
    print(text, out = write) {
      out(text);
    },
    stop(record) {
      unsubscribe();
      write(summary(record, now() - started, false));
    },
  };
}

/**
 * What the live view's frame shows (see {@link liveFrame}).
 *
 * @example
 * ```ts
 * const state: LiveFrameState = { flowId: 'etl', states: { success: 2, running: 1 }, elapsedMs: 1200, running: new Map([['clean', 1]]), gates: new Map(), failures: [] };
 * ```
 */
export interface LiveFrameState {
  readonly flowId: string;
  /** Task instances per state. */
  readonly states: Readonly<Partial<Record<TaskInstanceState, number>>>;
  readonly elapsedMs: number;
  /** The running task instances: key → attempt. */
  readonly running: ReadonlyMap<string, number>;
  /** Gates waited on: gate name → keys of the instances that wait on it. */
  readonly gates: ReadonlyMap<string, readonly string[]>;
  /** The latest failures and retries, one line each (`✗ key: error` or `↻ key: error`). */
  readonly failures: readonly string[];
}

/**
 * The lines of the live view's frame, made to fit `width` columns and `height` rows: a header
 * (flow, progress bar, done/total, elapsed time), the counts per state in the states' colours
 * (wrapped between states), the running instances and those waiting on gates (as many as fit, then
 * `… +N`), and the latest failures. When they are more than `height` lines, the last one says how
 * many were left out. Lines wider than `width` are cut later by the live region.
 *
 * @example
 * ```ts
 * liveFrame(state, 80, 23, false);
 * // ['etl  [████████████████████░░░░░░░░░░] 2/3  1.2s', ' running 1   success 2 ', 'running: clean#1']
 * ```
 */
export function liveFrame(state: LiveFrameState, width: number, height: number, color: boolean): string[] {
  const total = allTaskInstanceStates.reduce((sum, name) => sum + (state.states[name] ?? 0), 0);
  const done = allTaskInstanceStates.reduce((sum, name) => sum + (finishedStates.has(name) ? (state.states[name] ?? 0) : 0), 0);
  const lines = [header(state.flowId, done, total, elapsed(state.elapsedMs), width, color)];
  const chips = allTaskInstanceStates
    .filter((name) => (state.states[name] ?? 0) > 0)
    .map((name) => ({ text: paintState(name, ` ${name} ${state.states[name]} `, color), width: stringWidth(` ${name} ${state.states[name]} `) }));
  let row = '';
  let rowWidth = 0;
  for (const chip of chips) {
    if (rowWidth > 0 && rowWidth + 1 + chip.width > width) {
      lines.push(row);
      row = '';
      rowWidth = 0;
    }
    row += `${rowWidth > 0 ? ' ' : ''}${chip.text}`;
    rowWidth += (rowWidth > 0 ? 1 : 0) + chip.width;
  }
  if (row !== '') lines.push(row);
  if (state.running.size > 0) {
    lines.push(listLine('running: ', [...state.running].map(([key, attempt]) => `${key}#${attempt}`), width));
  }
  for (const [gate, keys] of state.gates) lines.push(listLine(`waiting on gate ${gate}: `, keys, width));
  lines.push(...state.failures);
  if (lines.length <= height) return lines;
  const kept = Math.max(1, height - 1);
  if (height <= 1) return lines.slice(0, 1);
  return [...lines.slice(0, kept), dim(`… ${lines.length - kept} more lines: a taller terminal shows them`, color)];
}

/** `etl  [████░░░░] 2/4  1.2s`, the bar and then the flow id shortened to fit `width`. */
function header(flowId: string, done: number, total: number, time: string, width: number, color: boolean): string {
  const tail = `${done}/${total}  ${time}`;
  const overhead = 5; // two spaces, the brackets, one space
  let name = flowId;
  let barWidth = Math.min(30, width - stringWidth(name) - stringWidth(tail) - overhead);
  if (barWidth < 10) {
    barWidth = 10;
    const nameWidth = width - stringWidth(tail) - overhead - barWidth;
    if (nameWidth < 8) return `${bold(flowId, color)} ${tail}`;
    name = fitLine(flowId, nameWidth);
  }
  const filled = total === 0 ? 0 : Math.round((done / total) * barWidth);
  return `${bold(name, color)}  [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${tail}`;
}

/** `label: a, b, c … +N`, with as many items as fit in `width` (at least one, cut if need be). */
function listLine(label: string, items: readonly string[], width: number): string {
  let line = label;
  let shown = 0;
  for (const item of items) {
    const rest = items.length - shown - 1;
    const candidate = `${line}${shown > 0 ? ', ' : ''}${item}`;
    if (shown > 0 && stringWidth(candidate) + (rest > 0 ? stringWidth(` … +${rest}`) : 0) > width) break;
    line = candidate;
    shown++;
  }
  return shown < items.length ? `${line} … +${items.length - shown}` : line;
}

/**
 * Options of {@link liveProgress}.
 *
 * @example
 * ```ts
 * liveProgress(handle, 'etl', terminal, Date.now, true, { verb: 'resumed' });
 * ```
 */
export interface LiveProgressOptions {
  /**
   * How the first line describes the run.
   * @default 'started'
   */
  readonly verb?: string;
  /**
   * How often the frame is redrawn when something changed, in ms.
   * @default 100
   */
  readonly intervalMs?: number;
  /** Passed to {@link createLiveRegion}. @default runs the redraw with `setImmediate` */
  readonly defer?: LiveRegionOptions['defer'];
}

/**
 * The live view on a terminal: a frame (see {@link liveFrame}) redrawn in place ten times a second
 * (when it changed) and at once when the terminal is resized, never wider or taller than the terminal, with
 * what is printed through {@link ProgressView.print} above it. `stop` erases the frame and prints
 * the summary.
 *
 * @example
 * ```ts
 * const view = liveProgress(handle, 'etl', ttyTerminal(process.stdout), Date.now, useColor(true));
 * view.print('[extract#1] 12 rows\n', (text) => process.stderr.write(text));
 * view.stop(await handle.settled());
 * ```
 */
export function liveProgress(
  handle: FlowRunHandle,
  flowId: string,
  terminal: LiveTerminal,
  now: () => number,
  color: boolean,
  options: LiveProgressOptions = {},
): ProgressView {
  const started = now();
  const region = createLiveRegion(terminal, options.defer ? { defer: options.defer } : {});
  const running = new Map<string, number>();
  const gated = new Map<string, readonly string[]>();
  const failures: string[] = [];
  region.print(`run ${handle.runId} of flow '${flowId}' ${options.verb ?? 'started'}\n`);
  const unsubscribe = handle.subscribe((change) => {
    const key = change.taskInstance.key;
    if (change.state === 'running') running.set(key, change.taskInstance.attempts);
    else running.delete(key);
    if (change.state === 'queued' && change.taskInstance.pendingGates?.length) gated.set(key, change.taskInstance.pendingGates);
    else gated.delete(key);
    if (change.state === 'failed' || change.msg === 'up_for_retry') {
      failures.push(`${change.state === 'failed' ? '✗' : '↻'} ${key}: ${firstLine(change.error)}`);
      if (failures.length > 5) failures.shift();
    }
  });
  const gates = (): Map<string, string[]> => {
    // Gates resolve without a state change: look again at the instances still listed.
    let checked = 0;
    for (const key of gated.keys()) {
      if (checked++ > 200) break;
      const pending = handle.taskInstance(key)?.pendingGates;
      if (pending === undefined || pending.length === 0) gated.delete(key);
      else gated.set(key, pending);
    }
    const byGate = new Map<string, string[]>();
    for (const [key, names] of gated) for (const gate of names) (byGate.get(gate) ?? byGate.set(gate, []).get(gate)!).push(key);
    return byGate;
  };
  // Drawn on every tick (the elapsed time moves); the region writes nothing when the frame is the same.
  const draw = () => {
    const state = { flowId, states: handle.stats().states, elapsedMs: now() - started, running, gates: gates(), failures };
    region.render(liveFrame(state, Math.floor(terminal.columns()) || 80, Math.max(1, (Math.floor(terminal.rows()) || 24) - 1), color));
  };
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 100);
  const stopResizing = terminal.onResize?.(draw);
  return {
    print(text, write) {
      region.print(text, write);
    },
    stop(record) {
      clearInterval(timer);
      stopResizing?.();
      unsubscribe();
      region.clear();
      terminal.write(summary(record, now() - started, color, Math.floor(terminal.columns()) || 80));
    },
  };
}

/**
 * The closing lines: outcome, counts per state, failures with their error's first line. When the
 * outcome and the counts are wider than `width` together, the counts go on a line of their own.
 *
 * @example
 * ```ts
 * summary(record, 1200, false); // 'run r1 success in 1.2s: success 4\n'
 * ```
 */
export function summary(record: FlowRunRecord, ms: number, color: boolean, width = Infinity): string {
  const counts = new Map<TaskInstanceState, number>();
  const failed: string[] = [];
  for (const ti of Object.values(record.tasks)) {
    counts.set(ti.state, (counts.get(ti.state) ?? 0) + 1);
    // (Wrapped at spaces to the terminal's width: an error's first line can be long.)
    if (ti.state === 'failed') failed.push(wrapLine(`  ${ti.key}: ${firstLine(ti.error)}`, width));
  }
  const states = allTaskInstanceStates
    .filter((state) => counts.has(state))
    .map((state) => paintState(state, `${state} ${counts.get(state)}`, color))
    .join(', ');
  const outcome =
    record.state !== 'running' && record.state !== 'queued'
      ? `run ${record.runId} ${record.state}${record.reason ? ` (${record.reason})` : ''} in ${elapsed(ms)}`
      : record.waitingOn.length > 0
        ? `run ${record.runId} is waiting on ${record.waitingOn.join(', ')} (resume or send an event to continue)`
        : `run ${record.runId} stopped before it finished`;
  const oneLine = `${outcome}: ${states}`;
  const head = stringWidth(oneLine) <= width ? oneLine : `${wrapLine(outcome, width)}\n${states}`;
  return `${head}\n${failed.length ? `${failed.join('\n')}\n` : ''}`;
}
