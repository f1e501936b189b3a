import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Store, StoredRun } from '../stores/index.ts';
import { RunNotFoundError } from '../errors.ts';
import { UsageError } from './command.ts';
import { shellWord, storeArgument } from './hints.ts';
import { loadFlowModule, type FlowModule } from '../operate/loadFlow.ts';
import { shownStore } from './storeOption.ts';

/** `--flow-file`, for the commands that open a stored run. */
export const flowFileOption = {
  type: 'string',
  description: "The flow file, when the run does not record it (it was not started by 'taskmachine run')",
  valueName: '<file>',
} as const;

/** A run id made by taskmachine (a random UUID): the ones `status` lists by their first 8 characters. */
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What may be the start of such an id: the 8 characters `status` shows, or more. (Not fewer: a
 * mistyped or pruned id of 4 hex digits should not reach a run nobody meant.)
 */
const uuidStart = /^[0-9a-f]{8}[0-9a-f-]{0,28}$/i;

/**
 * A run id as `status` lists it: a random UUID by its first 8 characters (as git and docker show
 * ids; `findStoredRun` takes them back), any other id whole.
 *
 * @example
 * ```ts
 * shownRunId('0fe04d20-ca9d-4a20-af24-d68f8efc4657'); // '0fe04d20'
 * shownRunId('nightly-2026-11-22'); // 'nightly-2026-11-22'
 * ```
 */
export function shownRunId(runId: string): string {
  return uuidShape.test(runId) ? runId.slice(0, 8) : runId;
}

/**
 * The stored run `runId` names — its id, or the start (8 or more characters) of exactly one
 * stored random UUID id, as `status` lists them — or a `RunNotFoundError` (exit 2) naming the
 * store and the recent runs; a start that several runs share is refused (exit 2) naming them.
 * Commands use the returned run's `runId` from then on. (A start is tried only when no run has
 * exactly that id, and only against random ids: `nightly` never means `nightly-2`. Finding a start
 * lists every run once: a little slower than a whole id on a big store.)
 */
export async function findStoredRun(store: Store, runId: string, storePath: string): Promise<StoredRun> {
  const run = await store.getRun(runId);
  if (run !== undefined) return run;
  if (uuidStart.test(runId)) {
    const start = runId.toLowerCase();
    const matches = (await store.listRuns({ limit: Infinity })).filter((summary) => uuidShape.test(summary.runId) && summary.runId.toLowerCase().startsWith(start));
    if (matches.length > 1) {
      throw new UsageError(
        `run id '${runId}' is the start of ${matches.length} runs' ids: ${matches.slice(0, 5).map((summary) => summary.runId).join(', ')}${matches.length > 5 ? ', …' : ''}.`,
        'Give more of the id (or all of it).',
      );
    }
    const found = matches.length === 1 ? await store.getRun(matches[0]!.runId) : undefined;
    if (found !== undefined) return found;
  }
  const recent = await store.listRuns({ limit: 5 });
  throw new RunNotFoundError(
    runId,
    `it is not in ${shownStore(storePath)}. ` +
      (recent.length ? `Recent runs: ${recent.map((r) => r.runId).join(', ')}. Run 'taskmachine status' to list them.` : "Run 'taskmachine status' to list the runs."),
  );
}

/**
 * Why a command needs the flow's code, for its error messages: `run` (resume and manual changes
 * apply the run's lifecycle with the flow's tasks) or `draw` (a run stored before runs kept their
 * shape).
 */
export type FlowFileUse = 'run' | 'draw';

/** Finds a stored run and imports the flow file it was started from (recorded in its labels by `run`). */
export async function openStoredRun(
  store: Store,
  given: string,
  cwd: string,
  flowFileOverride: string | undefined,
  storePath: string,
  use: FlowFileUse = 'run',
): Promise<{ run: StoredRun; module: FlowModule }> {
  const run = await findStoredRun(store, given, storePath);
  const runId = run.runId;
  const why =
    use === 'run'
      ? `this command runs the flow's code (its tasks), which run '${runId}' needs`
      : `run '${runId}' was stored before runs kept their task graph, so drawing it needs its flow file`;
  const file = flowFileOverride ?? run.labels?.flowFile;
  if (file === undefined) {
    throw new UsageError(`${why}, and the run does not record its flow file (it was not started by 'taskmachine run').`, 'Pass it with --flow-file <file>.');
  }
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (flowFileOverride === undefined && !existsSync(path)) {
    throw new UsageError(
      `${why}, but its flow file '${file}' is not there any more (looked at ${path}).`,
      `If it moved, pass its new path with --flow-file <file>.` +
        (use === 'run' ? ` (Without it, 'taskmachine status ${shellWord(runId)}${storeArgument(storePath)}' and 'taskmachine logs ${shellWord(runId)}${storeArgument(storePath)}' still show the run.)` : ''),
    );
  }
  const module = await loadFlowModule(path, cwd, run.labels?.flowExport);
  if (module.flow.id !== run.flowId) {
    throw new UsageError(`'${file}' defines flow '${module.flow.id}', but run '${runId}' is of flow '${run.flowId}'.`, 'Pass the right file with --flow-file <file>.');
  }
  return { run, module };
}
