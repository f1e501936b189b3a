import { allTaskInstanceStates, isTaskInstanceState, type TaskInstanceState } from '../../../machines/index.ts';
import { ownerStatus, type OwnerStatus } from '../../runtime/opening/ownerStatus.ts';
import { defineCommand, UsageError } from '../command.ts';
import { shellWord, storeArgument } from '../hints.ts';
import { hostname } from 'node:os';
import { processExists } from '../../processExists.ts';
import { wrapLine } from '../wrapText.ts';
import { countsText, duration, ownerJson, readStatusPage, statusText, tableWithin, time } from '../runStatus.ts';
import { runRecordToJson } from '../serialize.ts';
import { openStore, shownStore, storeOption } from '../storeOption.ts';
import { refusalText, unclaimedAttempts, unclaimedText, workerRefusals } from '../workerRefusals.ts';
import { findStoredRun, shownRunId } from '../storedRun.ts';
import { suggest } from '../../suggest.ts';
import { EXECUTOR_LABEL } from '../../runtime/settings.ts';

/** How long ago `at` was, for a person. */
function ago(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)} min ago`;
}

/**
 * Who drives an unfinished run, in words (with the command that continues it when nobody does);
 * undefined when that is not worth a line.
 *
 * @example
 * ```ts
 * ownerLine(ownerStatus(await store.getLease(runId), Date.now()), runId, Date.now(), '', false);
 * ```
 */
export function ownerLine(owner: OwnerStatus, runId: string, now: number, storeArg: string, onWorkers: boolean): string | undefined {
  if (owner.status === 'none' || owner.status === 'released') return undefined;
  const { pid, host } = owner.lease.owner;
  if (owner.status === 'live') return `driven by pid ${pid} on ${host} (last seen ${ago(owner.lease.heartbeatAt, now)})`;
  const command = `  taskmachine resume ${shellWord(runId)}${storeArg}`;
  // An expired lease whose process still runs here: busy (a task blocking its event loop stops the
  // heartbeats too) or stopped, not gone — a takeover would run its running tasks a second time.
  if (owner.why === 'lease expired' && host === hostname() && processExists(pid)) {
    return (
      `${wrapLine(
        `orphaned: pid ${pid} on ${host} has not renewed its lease (it expired ${ago(owner.lease.expiresAt, now)}) but still runs: ` +
          `it is busy (a task blocking its event loop?) or stopped. Stop it first (kill ${pid}); a resume now takes the run over, ` +
          'and the tasks it runs may run twice:',
      )}\n${command}`
    );
  }
  const why = owner.why === 'process gone' ? 'that process no longer exists' : `its lease expired ${ago(owner.lease.expiresAt, now)}`;
  if (onWorkers) {
    // (Workers adopt a run whose lease expired: with one running, nothing needs doing.)
    // (Workers look every 2 s: an expiry well past with no adopter means none runs this flow.)
    const adopts =
      owner.lease.expiresAt > now
        ? `a worker with this flow adopts the run once its lease expires (in ${Math.ceil((owner.lease.expiresAt - now) / 1000)} s)`
        : now - owner.lease.expiresAt < 5_000
          ? 'a worker with this flow adopts the run within about 2 s'
          : 'no worker has adopted the run (is one running with this flow and this store?)';
    return `${wrapLine(`orphaned: pid ${pid} on ${host} stopped without letting go (${why}); ${adopts}, or continue it here with:`)}\n${command}`;
  }
  return `${wrapLine(`orphaned: pid ${pid} on ${host} stopped without letting go (${why}); continue it with:`)}\n${command}`;
}

function parseLimit(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`status: --limit must be a whole number ≥ 1, got '${text}'.`);
  return limit;
}

function parseStates(text: string | undefined): readonly TaskInstanceState[] | undefined {
  if (text === undefined) return undefined;
  const states = text.split(',').map((state) => state.trim());
  for (const state of states) {
    if (!isTaskInstanceState(state)) throw new UsageError(`status: unknown task instance state '${state}'.`, `Use a comma-separated list of: ${allTaskInstanceStates.join(', ')}.`);
  }
  return states as TaskInstanceState[];
}

/** `taskmachine status [runId]`: the stored runs, or one run's task instances. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'List stored runs, or show one run: its counts, then its task instances, failures first',
  description:
    'Without a run id: the newest runs (--limit, default 20). With one: the run, who drives it (or that\n' +
    'it is orphaned), how many task instances are in each state (per task, for mapped ones), then up\n' +
    'to --limit (default 100) instances — failures first, then what runs or waits, then the rest — or\n' +
    'the ones --state and --task select. It reads only what it shows, so it stays fast on a run of\n' +
    '100,000 tasks. --json prints the same (with results) as JSON.',
  args: [{ name: 'runId', description: 'The run to show (default: list the runs)', optional: true }],
  options: {
    store: storeOption,
    json: { type: 'boolean', description: 'Print JSON' },
    limit: { type: 'string', description: 'Most runs to list (default 20), or task instances to show (default 100)', valueName: '<n>' },
    state: { type: 'string', description: 'With a run id: only task instances in these states (comma-separated)', valueName: '<states>' },
    task: { type: 'string', description: 'With a run id: only the instances of this task (a mapped task: all of them)', valueName: '<taskId>' },
  },
  examples: ['taskmachine status', 'taskmachine status nightly-2026-11-22', 'taskmachine status nightly --state failed,upstream_failed', 'taskmachine status nightly --task score --json'],
  async run({ args, options, stdout, cwd }) {
    const store = await openStore(options.store, cwd, { existing: true });
    try {
      if (args.runId === undefined) {
        if (options.state !== undefined || options.task !== undefined) throw new UsageError('status: --state and --task need a run id.', 'Usage: taskmachine status <runId> --state failed');
        const runs = await store.listRuns({ limit: parseLimit(options.limit, 20) });
        const now = Date.now();
        const owners = runs.map((run) => ownerStatus(run.lease, now));
        if (options.json) {
          stdout(`${JSON.stringify(runs.map(({ lease: _lease, ...run }, index) => ({ ...run, owner: ownerJson(owners[index]!) })), null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          stdout(`no runs in ${shownStore(options.store)}\n`);
          return;
        }
        const rows = [['RUN', 'FLOW', 'STATE', 'STARTED', 'DURATION', 'TASKS']];
        for (const [index, run] of runs.entries()) {
          const orphaned = owners[index]!.status === 'orphaned' && run.state !== 'success' && run.state !== 'failed';
          rows.push([shownRunId(run.runId), run.flowId, run.state + (run.reason ? ` (${run.reason})` : '') + (orphaned ? ', orphaned' : ''), time(run.startedAt), duration(run.startedAt, run.endedAt), countsText(run.taskCounts)]);
        }
        stdout(`${tableWithin(rows)}\n`);
        return;
      }
      const states = parseStates(options.state);
      const limit = parseLimit(options.limit, 100);
      const run = await findStoredRun(store, args.runId, options.store);
      const now = Date.now();
      const owner = ownerStatus(await store.getLease(run.runId), now);
      const page = await readStatusPage(store, run.runId, { ...(states === undefined ? {} : { states }), ...(options.task === undefined ? {} : { taskId: options.task }), limit });
      // An id that is no task of the run is a mistake (exit 2, as `logs` says), not "nothing matches".
      if (options.task !== undefined && page.matching === 0) {
        const taskIds = run.taskIds ?? page.counts.byTask.map((task) => task.taskId);
        if (!taskIds.includes(options.task) && !page.counts.byTask.some((task) => task.taskId === options.task)) {
          const close = suggest(options.task, taskIds);
          throw new UsageError(
            `status: run '${run.runId}' has no task '${options.task}'.${close === undefined ? '' : ` Did you mean '${close}'?`}`,
            `Its tasks: ${taskIds.slice(0, 20).join(', ') || '(none ran yet)'}${taskIds.length > 20 ? `, … (${taskIds.length} in all)` : ''}. --task takes a task id (a mapped task: all its instances).`,
          );
        }
      }
      const finished = run.state === 'success' || run.state === 'failed';
      const refused = finished ? [] : await workerRefusals(store, run.runId);
      const unclaimed = finished ? [] : await unclaimedAttempts(store, run.runId, now);
      if (options.json) {
        const tasks = Object.fromEntries(page.instances.map((i) => [i.key, page.results.has(i.key) ? { ...i, result: page.results.get(i.key) } : i]));
        const { input: _input, ...record } = run;
        const waiting = { ...(refused.length > 0 ? { refusedByWorkers: refused } : {}), ...(unclaimed.length > 0 ? { notTakenByWorkers: unclaimed } : {}) };
        stdout(`${runRecordToJson({ ...record, owner: ownerJson(owner), counts: page.counts, tasks, more: page.matching - page.instances.length, ...waiting } as never)}\n`);
        return;
      }
      const storeArg = storeArgument(options.store);
      stdout(
        statusText(run, page, {
          ownerLine: finished ? undefined : ownerLine(owner, run.runId, now, storeArg, run.labels?.[EXECUTOR_LABEL] === 'workers'),
          orphaned: owner.status === 'orphaned' && !finished,
          storeArg,
          filtered: states !== undefined || options.task !== undefined,
        }),
      );
      if (refused.length > 0) stdout(refusalText(refused));
      if (unclaimed.length > 0) stdout(unclaimedText(unclaimed, now, storeArg, run.labels?.flowFile));
    } finally {
      await store.close();
    }
  },
});
