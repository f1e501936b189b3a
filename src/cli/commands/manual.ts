import type { FlowRunHandle } from '../../runtime/runFlow.ts';
import type { ControlRequestWrite } from '../../stores/index.ts';
import { defineCommand, type CommandContext } from '../command.ts';
import { applyChange } from '../control.ts';
import { shellWord } from '../session.ts';
import { openStore, storeHint, storeOption } from '../storeOption.ts';
import { findStoredRun, flowFileOption, openStoredRun, pausedHandle } from '../storedRun.ts';

const manualOptions = { store: storeOption, 'flow-file': flowFileOption } as const;

/**
 * Applies one manual change to a stored run and reports the state it led to. When another process
 * drives the run, that process applies it (a control request) and the run goes on there; otherwise
 * the run is opened here for the change only (nothing runs) and let go of again.
 */
async function changeStoredRun(
  { args, options, stdout, cwd }: CommandContext<typeof manualOptions>,
  request: Omit<ControlRequestWrite, 'runId' | 'requestedAt' | 'requestedBy'>,
  change: (handle: FlowRunHandle, taskKey: string) => void,
): Promise<void> {
  const store = openStore(options.store, cwd);
  try {
    const runId = args.runId!;
    await findStoredRun(store, runId, options.store);
    const { message, owner } = await applyChange(store, runId, request, async () => {
      const { module } = await openStoredRun(store, runId, cwd, options['flow-file'], options.store);
      const handle = pausedHandle(module, store, runId);
      try {
        await handle.ready();
        const taskKey = args.taskKey!;
        const before = handle.taskInstance(taskKey)?.state;
        change(handle, taskKey);
        await handle.persisted();
        return `${taskKey}: ${before} → ${handle.taskInstance(taskKey)?.state}`;
      } finally {
        await handle.shutdown({ graceMs: 0 });
      }
    });
    const { store: storeArg } = storeHint(options.store);
    const resume = `taskmachine resume ${shellWord(runId)}${storeArg === undefined ? '' : ` --store ${shellWord(storeArg)}`}`;
    stdout(
      owner === undefined
        ? `${message}. Continue the run with: ${resume}\n`
        : `${message} (applied by the process driving the run: pid ${owner.pid} on ${owner.host}; it continues there).\n`,
    );
  } finally {
    await store.close();
  }
}

/** `taskmachine set-state <runId> <taskKey> <state>`. */
export const setStateCommand = defineCommand({
  name: 'set-state',
  summary: 'Set a stored task instance to success, failed or skipped by hand',
  description:
    'The change obeys the lifecycle machine (an illegal one is refused and changes nothing) and fires\n' +
    "the flow file's listeners' manual hooks (msg manually_set_to_*). After a manual success, failed\n" +
    "and upstream_failed downstream instances are cleared. When another process drives the run, that\n" +
    "process applies the change and the run goes on there; otherwise nothing runs: continue with\n" +
    "'taskmachine resume'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
    { name: 'state', description: 'The new state', choices: ['success', 'failed', 'skipped'] },
  ],
  options: manualOptions,
  examples: ['taskmachine set-state nightly load success'],
  run: (context) => {
    const state = context.args.state as 'success' | 'failed' | 'skipped';
    return changeStoredRun(context, { action: 'set-state', taskKey: context.args.taskKey!, state }, (handle, key) => handle.setState(key, state));
  },
});

/** `taskmachine clear <runId> <taskKey>`. */
export const clearCommand = defineCommand({
  name: 'clear',
  summary: 'Clear a stored task instance so it runs again',
  description:
    'The instance goes back to none (a running one through restarting → up_for_retry) with its retry\n' +
    'budget renewed; no listener hook fires (as in Airflow). When another process drives the run, that\n' +
    "process applies the change; otherwise nothing runs: continue with 'taskmachine resume'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
  ],
  options: manualOptions,
  examples: ['taskmachine clear nightly load'],
  run: (context) => changeStoredRun(context, { action: 'clear', taskKey: context.args.taskKey! }, (handle, key) => handle.clear(key)),
});
