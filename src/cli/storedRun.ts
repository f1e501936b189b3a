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

/** The stored run, or a `RunNotFoundError` (exit 2) naming the store and the recent runs. */
export async function findStoredRun(store: Store, runId: string, storePath: string): Promise<StoredRun> {
  const run = await store.getRun(runId);
  if (run !== undefined) return run;
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
  runId: string,
  cwd: string,
  flowFileOverride: string | undefined,
  storePath: string,
  use: FlowFileUse = 'run',
): Promise<{ run: StoredRun; module: FlowModule }> {
  const run = await findStoredRun(store, runId, storePath);
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
