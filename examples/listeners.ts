// Listeners: observe every state change of a run, and the Airflow-style hooks.
// Run it:  npx node examples/listeners.ts
import { flow, runFlow, type Listener } from 'taskmachine';

const timeline: string[] = [];

/** A lineage-style listener: one line per transition, scheduler-side ones included. */
const lineage: Listener = {
  onTaskInstanceStateChange: ({ taskInstance, previousState, state, msg }) =>
    void timeline.push(`${taskInstance.key}: ${previousState} → ${state}${msg ? ` (${msg})` : ''}`),
};

/** An alerting listener: tells a retry from the final failure. */
const alerts: Listener = {
  onTaskInstanceFailed: ({ taskInstance, error, failureDetails }) =>
    console.log(
      `${failureDetails.willRetry ? 'retrying' : 'FAILED'} ${taskInstance.key} after attempt ${failureDetails.attempt}: ${error.message}`,
    ),
  onFlowRunFailed: ({ flowRun, msg }) => console.log(`run ${flowRun.runId} failed: ${msg}`),
  onFlowRunSuccess: ({ flowRun }) => console.log(`run ${flowRun.runId} succeeded`),
};

let attempts = 0;
const nightly = flow('nightly', (f) => {
  const load = f.task('load', () => {
    if (++attempts === 1) throw new Error('lock timeout');
    return 100;
  }, { retries: 1 });
  f.task('publish', ({ upstream }) => `published ${upstream.load} rows`, { after: [load] });
});

const run = await runFlow(nightly, { listeners: [lineage, alerts] });
console.log(timeline.join('\n'));
console.log(`final: ${run.state}`);
