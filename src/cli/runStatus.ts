import { allTaskInstanceStates, type TaskInstanceState } from '../../machines/index.ts';
import type { OwnerStatus } from '../runtime/opening/ownerStatus.ts';
import type { Store, StoredRun, StoredTaskInstance, TaskInstanceCounts } from '../stores/index.ts';
import { continueCommand, shellWord } from './hints.ts';
import { fill, PROSE_COLUMNS, wrapLine } from './wrapText.ts';

/**
 * What `status <run>` shows first, in this order: what went wrong, then what is in progress or
 * waiting, then the rest — so a 100k-instance run shows its failures on the first screen.
 */
const groups: readonly (readonly TaskInstanceState[])[] = [
  ['failed', 'upstream_failed', 'up_for_retry'],
  ['running', 'restarting', 'queued', 'scheduled', 'up_for_reschedule', 'deferred', 'checkpointed'],
  allTaskInstanceStates.filter((state) => !['failed', 'upstream_failed', 'up_for_retry', 'running', 'restarting', 'queued', 'scheduled', 'up_for_reschedule', 'deferred', 'checkpointed'].includes(state)),
];

/** A page of a run's instances for `status`, with their results, read at a cost that grows with the page. */
export interface StatusPage {
  readonly counts: TaskInstanceCounts;
  readonly instances: readonly StoredTaskInstance[];
  readonly results: ReadonlyMap<string, unknown>;
  /** How many instances match the filter in all (the page holds at most `limit`). */
  readonly matching: number;
}

/**
 * Reads what `status <run>` shows: the counts (by the store), then up to `limit` instances — those
 * matching `states`/`taskId` when given, else the interesting ones first (see `groups`).
 */
export async function readStatusPage(
  store: Store,
  runId: string,
  filter: { readonly states?: readonly TaskInstanceState[]; readonly taskId?: string; readonly limit: number },
): Promise<StatusPage> {
  const counts = await store.countTaskInstances(runId);
  const instances: StoredTaskInstance[] = [];
  const results = new Map<string, unknown>();
  const wanted = filter.states === undefined ? groups : [filter.states];
  let matching = 0;
  for (const states of wanted) {
    matching += countOf(counts, states, filter.taskId);
    let cursor: string | undefined;
    while (instances.length < filter.limit) {
      const page = await store.queryTaskInstances(runId, {
        states,
        ...(filter.taskId === undefined ? {} : { taskId: filter.taskId }),
        limit: Math.min(10_000, filter.limit - instances.length),
        withResults: true,
        ...(cursor === undefined ? {} : { cursor }),
      });
      instances.push(...page.instances);
      for (const [key, value] of page.results ?? []) results.set(key, value);
      if (page.next === undefined) break;
      cursor = page.next;
    }
  }
  return { counts, instances, results, matching };
}

function countOf(counts: TaskInstanceCounts, states: readonly TaskInstanceState[], taskId: string | undefined): number {
  const byState = taskId === undefined ? counts.byState : (counts.byTask.find((task) => task.taskId === taskId)?.byState ?? {});
  return states.reduce((sum, state) => sum + (byState[state] ?? 0), 0);
}

/** `success 9, failed 1` in the lifecycle's state order. */
export function countsText(byState: TaskInstanceCounts['byState']): string {
  return allTaskInstanceStates
    .filter((state) => (byState[state] ?? 0) > 0)
    .map((state) => `${state} ${byState[state]}`)
    .join(', ');
}

/** A timestamp for a table cell (UTC, to the second), or `-`. */
export function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** How long from `start` to `end`, for a table cell, or `-`. */
export function duration(start: number | undefined, end: number | undefined): string {
  if (start === undefined || end === undefined) return '-';
  const ms = end - start;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** The width of each column of `rows` (the widest cell's). */
function columnWidths(rows: readonly (readonly string[])[]): number[] {
  return rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
}

/** `a 1, b 2, …` in lines of at most `width` columns, broken between items (never inside one). */
function packItems(text: string, first: string, rest: string, width: number): string[] {
  const items = text.split(', ');
  const pieces = items.map((item, index) => (index < items.length - 1 ? `${item},` : item));
  const lines: string[] = [];
  let line = first + pieces[0]!;
  for (const piece of pieces.slice(1)) {
    if (line.length + 1 + piece.length > width) {
      lines.push(line);
      line = rest + piece;
    } else line += ` ${piece}`;
  }
  lines.push(line);
  return lines;
}

/**
 * Rows of cells as aligned columns, no line wider than `width` columns: a last cell that does not fit is
 * wrapped between its comma-separated items under its own column, or — when fewer than 16 columns are left for it —
 * put on the lines below its row, indented by 4.
 *
 * @example
 * ```ts
 * tableWithin([['RUN', 'TASKS'], ['a1b2c3d4', 'success 12, failed 1']], 80);
 * ```
 */
export function tableWithin(rows: string[][], width: number = PROSE_COLUMNS): string {
  const last = rows[0]!.length - 1;
  const widths = columnWidths(rows);
  const before = widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  return rows
    .flatMap((row) => {
      const head = row.slice(0, last).map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
      const cell = row[last]!;
      if (before + cell.length <= width) return [`${head}  ${cell}`.trimEnd()];
      if (width - before >= 16) return packItems(cell, `${head}  `, ' '.repeat(before), width);
      return [head.trimEnd(), ...packItems(cell, '    ', '    ', width)];
    })
    .join('\n');
}

/** The text of `status <run>`: the run, who drives it, the counts (mapped tasks summarized), the page. */
export function statusText(
  run: StoredRun,
  page: StatusPage,
  options: { readonly ownerLine: string | undefined; readonly orphaned: boolean; readonly storeArg: string; readonly filtered: boolean },
): string {
  const { counts, instances } = page;
  const lines = [
    wrapLine(`run ${run.runId} of flow '${run.flowId}': ${run.state}${run.reason ? ` (${run.reason})` : ''}${options.orphaned ? ', orphaned' : ''}`),
    wrapLine(`started ${time(run.startedAt)}, ${run.endedAt ? `ended ${time(run.endedAt)}` : 'not finished'}${run.labels?.['startedFrom'] ? `, from ${run.labels['startedFrom']}` : ''}`),
    ...(options.ownerLine === undefined ? [] : [options.ownerLine]),
    wrapLine(`${counts.total} task instance${counts.total === 1 ? '' : 's'}${counts.total > 0 ? `: ${countsText(counts.byState)}` : ''}`),
    ...counts.byTask.filter((task) => task.total > 1).map((task) => wrapLine(`  ${task.taskId} (${task.total} instances): ${countsText(task.byState)}`)),
    '',
    '',
  ];
  if (instances.length === 0) return `${lines.join('\n')}${options.filtered ? 'no task instance matches\n' : ''}`;
  const rows = [['TASK', 'STATE', 'ATTEMPTS', 'STARTED', 'DURATION']];
  const notes: Note[] = [{ text: 'NOTE' }];
  for (const instance of instances) {
    // An interruption (a killed worker or process) uses no retry, so ATTEMPTS does not show it.
    const interrupted = instance.interruptions > 0 ? `interrupted ${instance.interruptions}×; ` : '';
    const note: Note = instance.error
      ? { text: `${interrupted}${instance.error.name}: ${instance.error.message.split('\n')[0]}` }
      : instance.timer
        ? { text: `${interrupted}${instance.timer.action} at ${time(instance.timer.deadline)}` }
        : instance.parked
          ? { text: `${interrupted}waiting${instance.state === 'deferred' ? ' for an event' : ''}:`, command: continueCommand(run.runId, instance, options.storeArg) }
          : { text: interrupted.slice(0, -2) };
    notes.push(note);
    rows.push([instance.key, instance.state, `${instance.attempt}/${instance.maxAttempts}`, time(instance.startedAt), duration(instance.startedAt, instance.endedAt)]);
  }
  const more = page.matching - instances.length;
  const tail = more > 0 ? `\n${wrapLine(`… ${more} more task instance${more === 1 ? '' : 's'}: narrow with --state or --task, or raise --limit`)}\n` : '\n';
  const failed = instances.find((instance) => instance.state === 'failed');
  const logsHint = failed === undefined ? '' : `what ${failed.key} logged:\n  taskmachine logs ${shellWord(run.runId)} ${shellWord(failed.key)}${options.storeArg}\n`;
  return `${lines.join('\n')}${tableWithNotes(rows, notes)}${tail}${logsHint}`;
}

/** The last cell of a row of `status <run>`: prose, and a command to paste that is never broken. */
interface Note {
  readonly text: string;
  readonly command?: string;
}

/**
 * `rows` as aligned columns with each row's note last; no line wider than `width` but a command.
 * A note that does not fit beside its row goes on the lines below it, indented by 4: its prose
 * broken at spaces, its command on a line of its own.
 */
function tableWithNotes(rows: readonly string[][], notes: readonly Note[], width: number = PROSE_COLUMNS): string {
  const widths = columnWidths(rows);
  return rows
    .flatMap((row, index) => {
      const head = row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
      const { text, command } = notes[index]!;
      const note = command === undefined ? text : `${text} ${command}`;
      if (note === '' || head.length + 2 + note.length <= width) return [`${head}  ${note}`.trimEnd()];
      if (4 + note.length <= width) return [head.trimEnd(), `    ${note}`];
      return [head.trimEnd(), ...(text === '' ? [] : fill(text, '    ', '      ', width)), ...(command === undefined ? [] : [`      ${command}`])];
    })
    .join('\n');
}

/** The ownership fields `--json` shows. */
export function ownerJson(owner: OwnerStatus): Record<string, unknown> {
  if (owner.status === 'none') return { status: 'none' };
  const { lease } = owner;
  return {
    status: owner.status,
    ...(owner.status === 'orphaned' ? { why: owner.why } : {}),
    host: lease.owner.host,
    pid: lease.owner.pid,
    heartbeatAt: lease.heartbeatAt,
    expiresAt: lease.expiresAt,
    ...(lease.releasedAt !== undefined ? { releasedAt: lease.releasedAt } : {}),
  };
}
