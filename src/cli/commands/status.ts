import { allTaskInstanceStates } from '../../../machines/index.ts';
import { ownerStatus, type OwnerStatus } from '../../runtime/opening/ownerStatus.ts';
import type { Store } from '../../stores/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { continueCommand, storeArgument } from '../hints.ts';
import { runRecordToJson } from '../serialize.ts';
import { openStore, storeOption } from '../storeOption.ts';

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function duration(start: number | undefined, end: number | undefined): string {
  if (start === undefined || end === undefined) return '-';
  const ms = end - start;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** How long ago `at` was, for a person. */
function ago(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)} min ago`;
}

/** Who drives an unfinished run, in words; undefined when that is not worth a line. */
function ownerLine(owner: OwnerStatus, runId: string, now: number): string | undefined {
  if (owner.status === 'none' || owner.status === 'released') return undefined;
  const { pid, host } = owner.lease.owner;
  if (owner.status === 'live') return `driven by pid ${pid} on ${host} (last seen ${ago(owner.lease.heartbeatAt, now)})`;
  const why = owner.why === 'process gone' ? 'that process no longer exists' : `its lease expired ${ago(owner.lease.expiresAt, now)}`;
  return `orphaned: pid ${pid} on ${host} stopped without letting go (${why}); continue it with: taskmachine resume ${runId}`;
}

/** The ownership fields `--json` shows. */
function ownerJson(owner: OwnerStatus): Record<string, unknown> {
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

async function ownerOf(store: Store, runId: string, now: number): Promise<OwnerStatus> {
  return ownerStatus(await store.getLease(runId), now);
}

/** `taskmachine status [runId]`: the stored runs, or one run's task instances. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'List stored runs, or show one run with its task instances',
  args: [{ name: 'runId', description: 'The run to show (default: list the runs)', optional: true }],
  options: {
    store: storeOption,
    json: { type: 'boolean', description: 'Print JSON' },
    limit: { type: 'string', description: 'Most runs to list', default: '20', valueName: '<n>' },
  },
  examples: ['taskmachine status', 'taskmachine status nightly-2026-11-22 --json'],
  async run({ args, options, stdout, cwd }) {
    const store = openStore(options.store, cwd);
    try {
      if (args.runId === undefined) {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`status: --limit must be a whole number ≥ 1, got '${options.limit}'.`);
        const runs = await store.listRuns({ limit });
        const now = Date.now();
        const owners = runs.map((run) => ownerStatus(run.lease, now));
        if (options.json) {
          stdout(`${JSON.stringify(runs.map(({ lease: _lease, ...run }, index) => ({ ...run, owner: ownerJson(owners[index]!) })), null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          stdout(`no runs in ${options.store}\n`);
          return;
        }
        const rows = [['RUN', 'FLOW', 'STATE', 'STARTED', 'DURATION', 'TASKS']];
        for (const [index, run] of runs.entries()) {
          const orphaned = owners[index]!.status === 'orphaned' && run.state !== 'success' && run.state !== 'failed';
          const counts = allTaskInstanceStates
            .filter((state) => (run.taskCounts[state] ?? 0) > 0)
            .map((state) => `${state} ${run.taskCounts[state]}`)
            .join(', ');
          rows.push([run.runId, run.flowId, run.state + (run.reason ? ` (${run.reason})` : '') + (orphaned ? ', orphaned' : ''), time(run.startedAt), duration(run.startedAt, run.endedAt), counts]);
        }
        stdout(`${table(rows)}\n`);
        return;
      }
      const loaded = await store.loadRun(args.runId);
      if (loaded === undefined) {
        throw new UsageError(`there is no run '${args.runId}' in ${options.store}.`, "Run 'taskmachine status' to list the runs.");
      }
      const { run, instances } = loaded;
      const now = Date.now();
      const owner = await ownerOf(store, run.runId, now);
      if (options.json) {
        // Each instance with its result (the latest attempt's, for one that succeeded).
        const results = new Map(loaded.results.map((result) => [result.key, result.value]));
        const tasks = Object.fromEntries(instances.map((i) => [i.key, i.state === 'success' && results.has(i.key) ? { ...i, result: results.get(i.key) } : i]));
        stdout(`${runRecordToJson({ ...run, owner: ownerJson(owner), tasks } as never)}\n`);
        return;
      }
      const finished = run.state === 'success' || run.state === 'failed';
      const driver = finished ? undefined : ownerLine(owner, run.runId, now);
      const lines = [
        `run ${run.runId} of flow '${run.flowId}': ${run.state}${run.reason ? ` (${run.reason})` : ''}${owner.status === 'orphaned' && !finished ? ', orphaned' : ''}`,
        `started ${time(run.startedAt)}, ${run.endedAt ? `ended ${time(run.endedAt)}` : 'not finished'}${run.labels?.startedFrom ? `, from ${run.labels.startedFrom}` : ''}`,
        ...(driver === undefined ? [] : [driver]),
        '',
      ];
      const rows = [['TASK', 'STATE', 'ATTEMPTS', 'STARTED', 'DURATION', 'NOTE']];
      for (const instance of instances) {
        const note = instance.error
          ? `${instance.error.name}: ${instance.error.message.split('\n')[0]}`
          : instance.timer
            ? `${instance.timer.action} at ${time(instance.timer.deadline)}`
            : instance.parked
              ? `waiting${instance.state === 'deferred' ? ' for an event' : ''}: ${continueCommand(run.runId, instance, storeArgument(options.store))}`
              : '';
        rows.push([instance.key, instance.state, `${instance.attempt}/${instance.maxAttempts}`, time(instance.startedAt), duration(instance.startedAt, instance.endedAt), note]);
      }
      stdout(`${lines.join('\n')}${table(rows)}\n`);
    } finally {
      await store.close();
    }
  },
});
