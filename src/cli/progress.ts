import { allTaskInstanceStates, finishedStates, type TaskInstanceState } from '../../machines/index.ts';
import type { FlowRunHandle } from '../runtime/runFlow.ts';
import type { FlowRunRecord, TaskInstanceChange } from '../records.ts';
import { bold, dim, paintState } from './ansi.ts';

/** Shows a run's progress while it runs; `stop` prints the final frame or summary. */
export interface ProgressView {
  stop(record: FlowRunRecord): void;
}

function firstLine(error: Error | undefined): string {
  if (error === undefined) return '';
  return `${error.name}: ${error.message.split('\n')[0]}`;
}

function elapsed(ms: number): string {
  const seconds = ms / 1000;
  return seconds < 60 ? `${seconds.toFixed(1)}s` : `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}

/**
 * Plain progress lines (not a TTY, or `--view lines`): one line per task-instance change that a
 * person cares about — starts, outcomes, retries, parking — and a summary at the end.
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
    stop(record) {
      unsubscribe();
      write(summary(record, now() - started, false));
    },
  };
}

/**
 * The live view on a TTY: counts per state in the states' colours, a progress bar, the running
 * task instances and the failures so far, redrawn in place at most ten times a second.
 */
export function liveProgress(
  handle: FlowRunHandle,
  flowId: string,
  write: (text: string) => void,
  now: () => number,
  color: boolean,
): ProgressView {
  const started = now();
  const running = new Map<string, number>();
  const gated = new Map<string, readonly string[]>();
  const failures: string[] = [];
  let drawnLines = 0;
  let dirty = true;
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
    dirty = true;
  });
  const draw = (final: boolean) => {
    if (!dirty && !final) return;
    dirty = false;
    const states = handle.stats().states;
    const total = allTaskInstanceStates.reduce((sum, state) => sum + (states[state] ?? 0), 0);
    const done = allTaskInstanceStates.reduce((sum, state) => sum + (finishedStates.has(state) ? (states[state] ?? 0) : 0), 0);
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const lines = [
      `${bold(flowId, color)} ${dim(`run ${handle.runId}`, color)}  [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}  ${elapsed(now() - started)}`,
      allTaskInstanceStates
        .filter((state) => (states[state] ?? 0) > 0)
        .map((state) => paintState(state as TaskInstanceState, ` ${state} ${states[state]} `, color))
        .join(' '),
    ];
    if (running.size > 0) {
      const shown = [...running].slice(0, 6).map(([key, attempt]) => `${key}#${attempt}`);
      lines.push(`running: ${shown.join(', ')}${running.size > 6 ? ` … +${running.size - 6}` : ''}`);
    }
    if (gated.size > 0) {
      // Gates resolve without a state change: look again at the instances still listed.
      let checked = 0;
      for (const key of gated.keys()) {
        if (checked++ > 200) break;
        const pending = handle.taskInstance(key)?.pendingGates;
        if (pending === undefined || pending.length === 0) gated.delete(key);
        else gated.set(key, pending);
      }
      const byGate = new Map<string, string[]>();
      for (const [key, gates] of gated) for (const gate of gates) (byGate.get(gate) ?? byGate.set(gate, []).get(gate)!).push(key);
      for (const [gate, keys] of byGate) {
        lines.push(`waiting on gate ${gate}: ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ` … +${keys.length - 6}` : ''}`);
      }
    }
    lines.push(...failures);
    const erase = drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[0J` : '';
    write(`${erase}${lines.join('\n')}\n`);
    drawnLines = lines.length;
  };
  draw(false);
  const timer = setInterval(() => draw(false), 100);
  return {
    stop(record) {
      clearInterval(timer);
      unsubscribe();
      dirty = true;
      draw(true);
      write(summary(record, now() - started, color));
    },
  };
}

/** The closing lines: outcome, counts per state, failures with their error's first line. */
export function summary(record: FlowRunRecord, ms: number, color: boolean): string {
  const counts = new Map<TaskInstanceState, number>();
  const failed: string[] = [];
  for (const ti of Object.values(record.tasks)) {
    counts.set(ti.state, (counts.get(ti.state) ?? 0) + 1);
    if (ti.state === 'failed') failed.push(`  ${ti.key}: ${firstLine(ti.error)}`);
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
  return `${outcome}: ${states}\n${failed.length ? `${failed.join('\n')}\n` : ''}`;
}
