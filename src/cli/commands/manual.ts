import type { FlowRunHandle } from '../../runtime/runFlow.ts';
import { defineCommand, type CommandContext } from '../command.ts';
import { openStore, storeOption } from '../storeOption.ts';
import { flowFileOption, openStoredRun, pausedHandle } from '../storedRun.ts';

const manualOptions = { store: storeOption, 'flow-file': flowFileOption } as const;

/** Applies one manual change to a stored run (nothing runs) and reports the state it led to. */
async function changeStoredRun(
  { args, options, stdout, cwd }: CommandContext<typeof manualOptions>,
  change: (handle: FlowRunHandle, taskKey: string) => void,
): Promise<void> {
  const store = openStore(options.store, cwd);
  try {
    const { module } = await openStoredRun(store, args.runId!, cwd, options['flow-file'], options.store);
    const handle = pausedHandle(module, store, args.runId!);
    await handle.ready();
    const taskKey = args.taskKey!;
    const before = handle.taskInstance(taskKey)?.state;
    change(handle, taskKey);
    await handle.persisted();
    stdout(`${taskKey}: ${before} → ${handle.taskInstance(taskKey)?.state}. Continue the run with: taskmachine resume ${args.runId}\n`);
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
    "and upstream_failed downstream instances are cleared. Nothing runs: continue with 'taskmachine resume'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
    { name: 'state', description: 'The new state', choices: ['success', 'failed', 'skipped'] },
  ],
  options: manualOptions,
  examples: ['taskmachine set-state nightly load success'],
  run: (context) => changeStoredRun(context, (handle, key) => handle.setState(key, context.args.state as 'success' | 'failed' | 'skipped')),
});

/** `taskmachine clear <runId> <taskKey>`. */
export const clearCommand = defineCommand({
  name: 'clear',
  summary: 'Clear a stored task instance so it runs again',
  description:
    'The instance goes back to none (a running one through restarting → up_for_retry) with its retry\n' +
    "budget renewed; no listener hook fires (as in Airflow). Nothing runs: continue with 'taskmachine resume'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
  ],
  options: manualOptions,
  examples: ['taskmachine clear nightly load'],
  run: (context) => changeStoredRun(context, (handle, key) => handle.clear(key)),
});
