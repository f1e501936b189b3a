import { setTimeout as delay } from 'node:timers/promises';
import { ownerStatus } from '../../runtime/opening/ownerStatus.ts';
import type { Store, StoredRun, StoredTaskLogLine, TaskLogQuery } from '../../stores/index.ts';
import { suggest } from '../../suggest.ts';
import { wrapLine } from '../wrapText.ts';
import { defineCommand, UsageError, type Command } from '../command.ts';
import { shellWord, storeArgument } from '../hints.ts';
import { openStore, storeOption } from '../storeOption.ts';
import { findStoredRun } from '../storedRun.ts';

/**
 * How `logs --follow` waits between two reads of the store (tests pass their own).
 *
 * @example
 * ```ts
 * const command = logsCommandWith({ pollMs: 10, sleep: async () => clock.advance(10) });
 * ```
 */
export interface FollowTiming {
  /**
   * Time between two reads of the store while following, in ms.
   * @default 500
   */
  readonly pollMs?: number;
  /**
   * Waits `ms` (the CLI: a timer).
   * @default setTimeout from node:timers/promises
   */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The time, to tell a live owner from an orphaned run.
   * @default Date.now
   */
  readonly now?: () => number;
}

/** Lines read from the store at a time. */
const PAGE = 1_000;

/** `09:30:01.123`: when a line was logged (UTC), to the millisecond. */
function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** A stored line as `logs` prints it: time, `[key#attempt]`, the line (later lines of it indented). */
export function formatLogLine(line: StoredTaskLogLine): string {
  const head = `${clockTime(line.at)} [${line.key}#${line.attempt}] `;
  return `${head}${line.line.split('\n').join(`\n${' '.repeat(head.length)}`)}\n`;
}

/** Which lines `logs <run> [task]` asks for: a task id (all its instances) or one instance's key. */
async function taskFilter(store: Store, run: StoredRun, task: string | undefined): Promise<Pick<TaskLogQuery, 'key' | 'taskId'>> {
  if (task === undefined) return {};
  const runId = run.runId;
  const counts = await store.countTaskInstances(runId);
  // (A task of the run that has no instance yet is a task too: --follow waits for its lines.)
  if (counts.byTask.some((entry) => entry.taskId === task) || run.taskIds?.includes(task) === true) return { taskId: task };
  const page = await store.queryTaskInstances(runId, { keyPrefix: task, limit: 100 });
  if (page.instances.some((instance) => instance.key === task)) return { key: task };
  const taskIds = run.taskIds ?? counts.byTask.map((entry) => entry.taskId);
  const close = suggest(task, [...taskIds, ...page.instances.map((instance) => instance.key)]);
  const shown = taskIds.slice(0, 20).join(', ') + (taskIds.length > 20 ? `, … (${taskIds.length} in all)` : '');
  throw new UsageError(
    `run '${runId}' has no task or task instance '${task}'.${close === undefined ? '' : ` Did you mean '${close}'?`}`,
    `Its tasks: ${shown || '(none ran yet)'}. Give a task id (all its instances) or one instance's key, e.g. score[3].`,
  );
}

function parseAttempt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const attempt = Number(text);
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new UsageError(`logs: --attempt must be a whole number ≥ 1, got '${text}'.`);
  return attempt;
}

/**
 * The `logs` command with its follow timing: `taskmachine logs <run> [task] [--attempt N]
 * [--follow]`.
 *
 * @example
 * ```ts
 * import { main } from './src/cli/main.ts';
 * await main(['logs', 'nightly', '--follow'], io, [logsCommandWith({ pollMs: 50 })]);
 * ```
 */
export function logsCommandWith(timing: FollowTiming = {}): Command {
  const { pollMs = 500, sleep = (ms: number) => delay(ms), now = Date.now } = timing;
  return defineCommand({
    name: 'logs',
    summary: "Print what a run's tasks logged with ctx().log, per attempt; --follow a live run",
    description:
      "Prints the ctx().log lines a run stored, in the order stored, as '<time> [key#attempt] line' (time in\n" +
      'UTC). With a task: only its lines (a task id: every instance of it, e.g. a mapped task; or one\n' +
      "instance's key, e.g. score[3]); --attempt: only that attempt's. A run stores at most 1,000 lines\n" +
      'of 4,096 characters per attempt, then a line saying the rest was not stored. --follow keeps\n' +
      'reading while a live process drives the run, and ends when the run ends (or nobody drives it).\n' +
      '(An attempt on a worker stores its lines when it ends: attempts side by side come one by one.)',
    args: [
      { name: 'runId', description: 'The run' },
      { name: 'task', description: "A task id (all its instances) or a task instance's key", optional: true },
    ],
    options: {
      store: storeOption,
      attempt: { type: 'string', description: 'Only the lines of this attempt (1, 2, …)', valueName: '<n>' },
      follow: { type: 'boolean', short: 'f', description: 'Keep printing new lines until the run ends' },
      json: { type: 'boolean', description: 'One JSON object per line: runId, seq, key, taskId, attempt, at, line' },
    },
    examples: ['taskmachine logs nightly', 'taskmachine logs nightly extract --attempt 2', 'taskmachine logs nightly score', 'taskmachine logs nightly --follow'],
    async run({ args, options, stdout, stderr, cwd }) {
      const attempt = parseAttempt(options.attempt);
      const store = await openStore(options.store, cwd, { existing: true });
      try {
        const found = await findStoredRun(store, args.runId!, options.store);
        const runId = found.runId;
        const query: TaskLogQuery = { ...(await taskFilter(store, found, args.task)), ...(attempt === undefined ? {} : { attempt }) };
        const print = (line: StoredTaskLogLine) => stdout(options.json ? `${JSON.stringify(line)}\n` : formatLogLine(line));
        let after = 0;
        /** Prints every stored line after the last one printed; how many it printed. */
        const drain = async (): Promise<number> => {
          let printed = 0;
          for (;;) {
            const lines = await store.readTaskLogs(runId, { ...query, afterSeq: after, limit: PAGE });
            for (const line of lines) print(line);
            printed += lines.length;
            if (lines.length > 0) after = lines.at(-1)!.seq;
            if (lines.length < PAGE) return printed;
          }
        };
        if (!options.follow) {
          if ((await drain()) === 0) stderr(`taskmachine: run '${runId}' stored no log lines${describe(query)}.\n`);
          return 0;
        }
        for (;;) {
          // The run's state first: lines committed with (or before) the batch that ended it are read after.
          const run = await store.getRun(runId);
          if (run === undefined) {
            stderr(`taskmachine: run '${runId}' was deleted while its logs were followed.\n`);
            return 0;
          }
          const owner = ownerStatus(await store.getLease(runId), now());
          await drain();
          if (run.state === 'success' || run.state === 'failed') {
            stderr(`taskmachine: run '${runId}' ended: ${run.state}${run.reason ? ` (${run.reason})` : ''}.\n`);
            return 0;
          }
          if (owner.status !== 'live') {
            stderr(
              `${wrapLine(
                `taskmachine: run '${runId}' is ${run.state} but no live process drives it, so no more lines will come; ` +
                  'stopped following. What it waits for, and how to continue it:',
              )}\n  taskmachine status ${shellWord(runId)}${storeArgument(options.store)}\n`,
            );
            return 0;
          }
          await sleep(pollMs);
        }
      } finally {
        await store.close();
      }
    },
  });
}

function describe(query: TaskLogQuery): string {
  const what = query.key !== undefined ? ` of task instance '${query.key}'` : query.taskId !== undefined ? ` of task '${query.taskId}'` : '';
  return `${what}${query.attempt !== undefined ? ` in attempt ${query.attempt}` : ''}`;
}

/** `taskmachine logs <runId> [task] [--attempt N] [--follow]`. */
export const logsCommand: Command = logsCommandWith();
