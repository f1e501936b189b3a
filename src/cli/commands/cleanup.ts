import { FlowRunState } from '../../../machines/index.ts';
import { RunOwnedError } from '../../errors.ts';
import { systemClock } from '../../clock.ts';
import { RunOwnership } from '../../runtime/opening/ownership.ts';
import { StoreError, type RunSummary, type Store } from '../../stores/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { openStore, storeOption } from '../storeOption.ts';
import { findStoredRun } from '../storedRun.ts';

/**
 * Deletes one run: it holds the run's lease meanwhile, so a run another live process drives is
 * refused (`RunOwnedError`, exit 2) instead of being pulled from under it. The lease row stays
 * (fencing tokens are never reused for the run id).
 */
async function deleteOne(store: Store, runId: string): Promise<boolean> {
  const ownership = new RunOwnership({ store, runId, ttlMs: 30_000, clock: systemClock, onLost: () => {}, log: () => {} });
  await ownership.acquire();
  try {
    return await store.deleteRun(runId);
  } finally {
    await ownership.release();
  }
}

/**
 * The run `given` names, for `delete`: as other commands find it — except that a run whose stored
 * record cannot be read (a damaged row: `StoreError`) is still named by its whole id, so that the
 * damaged run can be deleted (`damaged` says why it could not be read).
 */
async function runToDelete(store: Store, given: string, storePath: string): Promise<{ runId: string; damaged?: string }> {
  try {
    return { runId: (await findStoredRun(store, given, storePath)).runId };
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    return { runId: given, damaged: error.message };
  }
}

/** `taskmachine delete <runId>...`. */
export const deleteCommand = defineCommand({
  name: 'delete',
  summary: 'Delete stored runs with everything they recorded',
  description:
    'Removes each run with its task instances, transition log, results, checkpoints and control\n' +
    'requests. Every run id is checked first: if one does not exist, or another live process drives\n' +
    'one (cancel it first), nothing is deleted.',
  args: [{ name: 'runId', description: 'The runs to delete', repeated: true }],
  options: { store: storeOption },
  examples: ['taskmachine delete nightly-2026-11-22', 'taskmachine delete run-a run-b --store runs.db'],
  async run({ args, rest, options, stdout, cwd }) {
    const store = await openStore(options.store, cwd, { existing: true });
    try {
      const runIds: string[] = [];
      const damaged = new Map<string, string>();
      for (const given of [args.runId!, ...rest]) {
        const found = await runToDelete(store, given, options.store);
        const runId = found.runId;
        // (A start and the whole id, or two starts, may name one run: it is deleted once.)
        if (runIds.includes(runId)) continue;
        if (found.damaged !== undefined) damaged.set(runId, found.damaged);
        await refuseIfDriven(store, runId);
        runIds.push(runId);
      }
      // (A run found only by its id goes first: if no run has that id, nothing else was deleted.)
      runIds.sort((a, b) => Number(damaged.has(b)) - Number(damaged.has(a)));
      for (const runId of runIds) {
        const existed = await deleteOne(store, runId);
        if (!existed) throw new UsageError(`delete: there is no run '${runId}' (${damaged.get(runId) ?? 'it is gone'}).`, "Run 'taskmachine status' to list the runs.");
        stdout(`deleted run ${runId}${damaged.has(runId) ? ' (its stored record could not be read; it was deleted by its id)' : ''}\n`);
      }
    } finally {
      await store.close();
    }
  },
});

async function refuseIfDriven(store: Store, runId: string): Promise<void> {
  const ownership = new RunOwnership({ store, runId, ttlMs: 30_000, clock: systemClock, onLost: () => {}, log: () => {} });
  try {
    await ownership.acquire();
  } catch (error) {
    if (error instanceof RunOwnedError) throw new UsageError(`${error.message}`, `Cancel it first (taskmachine cancel ${runId}), or wait until it ends.`);
    throw error;
  }
  await ownership.release();
}

const units: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w` in ms; a UsageError naming the format otherwise. */
export function parseAge(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  if (match === null) throw new UsageError(`prune: --older-than must be a number and a unit (s, m, h, d or w), e.g. 30d; got '${text}'.`);
  return Number(match[1]) * units[match[2]!]!;
}

/** When a run counts as last active: when it ended, else when it was last written. */
const lastActive = (run: RunSummary): number => run.endedAt ?? run.updatedAt;

/** `taskmachine prune --older-than <age> [--state …] [--dry-run]`. */
export const pruneCommand = defineCommand({
  name: 'prune',
  summary: 'Delete the runs that ended (or were last active) before a given age',
  description:
    'Deletes every run in the given states (default: success and failed, i.e. ended runs) whose end\n' +
    '(or last write, for a run that has not ended) is older than --older-than, with everything it\n' +
    'recorded. Runs another live process drives are never deleted. --dry-run lists them instead.',
  args: [],
  options: {
    store: storeOption,
    'older-than': { type: 'string', description: 'Age, e.g. 30d, 12h, 90m', valueName: '<age>' },
    state: { type: 'string', description: 'Comma-separated run states to prune', default: 'success,failed', valueName: '<states>' },
    'dry-run': { type: 'boolean', description: 'List the runs it would delete, and delete nothing' },
  },
  examples: ['taskmachine prune --older-than 30d', 'taskmachine prune --older-than 7d --state failed --dry-run'],
  async run({ options, stdout, cwd }) {
    if (options['older-than'] === undefined) throw new UsageError('prune: --older-than is required (an age such as 30d), so nothing is deleted by accident.');
    const cutoff = Date.now() - parseAge(options['older-than']);
    const states = options.state.split(',').map((state) => state.trim());
    const known: readonly string[] = Object.values(FlowRunState);
    for (const state of states) {
      if (!known.includes(state)) throw new UsageError(`prune: unknown run state '${state}'.`, `Use a comma-separated list of: ${known.join(', ')}.`);
    }
    const store = await openStore(options.store, cwd, { existing: true });
    try {
      const runs = (await store.listRuns()).filter((run) => states.includes(run.state) && lastActive(run) < cutoff);
      let deleted = 0;
      for (const run of runs) {
        if (options['dry-run']) {
          stdout(`would delete run ${run.runId} (${run.state}, last active ${new Date(lastActive(run)).toISOString()})\n`);
          continue;
        }
        try {
          await deleteOne(store, run.runId);
          deleted++;
          stdout(`deleted run ${run.runId}\n`);
        } catch (error) {
          if (!(error instanceof RunOwnedError)) throw error;
          stdout(`kept run ${run.runId}: another process drives it\n`);
        }
      }
      stdout(options['dry-run'] ? `${runs.length} run(s) would be deleted (dry run: nothing was)\n` : `${deleted} run(s) deleted\n`);
    } finally {
      await store.close();
    }
  },
});
