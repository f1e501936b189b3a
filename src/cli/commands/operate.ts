import { startFlow } from '../../runtime/runFlow.ts';
import { EXECUTOR_LABEL } from '../../runtime/settings.ts';
import { defineCommand } from '../command.ts';
import { changeStoredRun, manualOptions } from './manual.ts';

/** `taskmachine cancel <runId> [--reason <text>]`. */
export const cancelCommand = defineCommand({
  name: 'cancel',
  summary: 'Cancel a stored run: running attempts are aborted and the run fails (cancelled)',
  description:
    'Timers and gates are dropped, running attempts end with RunCancelledError (their decorators settle\n' +
    'them), and the run ends failed with reason cancelled; instances that had not run stay as they\n' +
    'are. When another process drives the run, that process cancels it; otherwise the run is opened\n' +
    'here (attempts a dead process left running count as interrupted) and cancelled. A run that has\n' +
    'ended already is left as it is.',
  args: [{ name: 'runId', description: 'The run' }],
  options: { ...manualOptions, reason: { type: 'string', description: 'Why, recorded in the cancelled attempts\' errors', valueName: '<text>' } },
  examples: ['taskmachine cancel nightly', "taskmachine cancel nightly --reason 'wrong input'"],
  run: (context) => {
    const reason = context.options.reason ?? `cancelled with 'taskmachine cancel' (pid ${process.pid})`;
    return changeStoredRun(
      context,
      { action: 'cancel', payload: reason },
      async ({ module, store, runId }) => {
        const stored = await store.getRun(runId);
        if (stored !== undefined && (stored.state === 'success' || stored.state === 'failed')) {
          return `run '${runId}' has ended already (${stored.state}${stored.reason ? `, ${stored.reason}` : ''}): nothing to cancel`;
        }
        // A run started with --executor workers is opened with it, so that its launches on workers are aborted too.
        const executor = stored?.labels?.[EXECUTOR_LABEL] === 'workers' ? 'workers' : 'local';
        const handle = startFlow(module.flow, { store, runId, resume: true, executor, gates: module.gates, listeners: module.listeners, log: () => {} });
        handle.cancel(reason);
        const run = await handle.done;
        await handle.persisted();
        return `run '${runId}': ${run.state}${run.reason ? ` (${run.reason})` : ''}`;
      },
      () => '',
    );
  },
});
