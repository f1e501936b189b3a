import type { ControlRequestWrite } from '../../stores/index.ts';
import { defineCommand, type CommandContext } from '../command.ts';
import { applyChange } from '../../operate/control.ts';
import { shellWord, storeArgument } from '../hints.ts';
import { openStore, storeOption } from '../storeOption.ts';
import { findStoredRun, flowFileOption, openStoredRun } from '../storedRun.ts';
import { onPausedRun, type DirectChange } from '../../operate/pausedRun.ts';
import { wrapLine } from '../wrapText.ts';

/** Options every command that changes a stored run takes. */
export const manualOptions = { store: storeOption, 'flow-file': flowFileOption } as const;


/**
 * Applies one manual change to a stored run and reports what it led to. When another process
 * drives the run, that process applies it (a control request) and the run goes on there;
 * otherwise `direct` applies it here.
 */
export async function changeStoredRun(
  { args, options, stdout, cwd }: Pick<CommandContext<typeof manualOptions>, 'args' | 'options' | 'stdout' | 'cwd'>,
  request: Omit<ControlRequestWrite, 'runId' | 'requestedAt' | 'requestedBy'>,
  direct: DirectChange,
  afterDirect: (runId: string, storeArg: string) => string = (runId, storeArg) => `Continue the run with:\n  taskmachine resume ${shellWord(runId)}${storeArg}`,
): Promise<void> {
  const store = await openStore(options.store, cwd, { existing: true });
  try {
    const runId = (await findStoredRun(store, args.runId!, options.store)).runId;
    const { message, owner } = await applyChange(store, runId, request, async () => {
      const { module } = await openStoredRun(store, runId, cwd, options['flow-file'], options.store);
      return direct({ module, store, runId });
    });
    // Prose wrapped at 80 columns; a command to paste stays whole, on a line of its own.
    const next = afterDirect(runId, storeArgument(options.store));
    stdout(
      owner === undefined
        ? `${wrapLine(`${message}.`)}\n${next === '' ? '' : `${next}\n`}`
        : `${wrapLine(`${message} (applied by the process driving the run: pid ${owner.pid} on ${owner.host}; ${request.action === 'cancel' ? 'it ends there' : 'it continues there'}).`)}\n`,
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
    const taskKey = context.args.taskKey!;
    return changeStoredRun(context, { action: 'set-state', taskKey, state }, onPausedRun(taskKey, (handle) => handle.setState(taskKey, state)));
  },
});

const clearOptions = {
  ...manualOptions,
  downstream: { type: 'boolean', description: 'Also clear every task instance downstream of it' },
  upstream: { type: 'boolean', description: 'Also clear every task instance upstream of it' },
} as const;

/** `taskmachine clear <runId> <taskKey> [--downstream] [--upstream]`. */
export const clearCommand = defineCommand({
  name: 'clear',
  summary: 'Clear a stored task instance (and what follows or precedes it) so it runs again',
  description:
    'The instance goes back to none (a running one through restarting → up_for_retry) with its retry\n' +
    'budget renewed; no listener hook fires (as in Airflow). --downstream / --upstream also clear the\n' +
    "instances of every task after / before it that can be cleared (one that never ran is left as it\n" +
    "is). When another process drives the run, that process applies the change; otherwise nothing\n" +
    "runs: continue with 'taskmachine resume'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
  ],
  options: clearOptions,
  examples: ['taskmachine clear nightly load', 'taskmachine clear nightly load --downstream'],
  run: (context) => {
    const taskKey = context.args.taskKey!;
    const family = { downstream: context.options.downstream, upstream: context.options.upstream };
    const request = { action: 'clear' as const, taskKey, ...(family.downstream || family.upstream ? { payload: family } : {}) };
    return changeStoredRun(context, request, onPausedRun(taskKey, (handle) => {
      const cleared = handle.clear(taskKey, family);
      return cleared.length > 1 ? `cleared ${cleared.length} task instances: ${cleared.join(', ')}` : undefined;
    }));
  },
});
