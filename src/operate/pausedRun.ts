// Changing a stored run that no process drives: it is opened paused here (nothing runs), the change
// goes through the machines, and it is stored before the handle lets go of the run.
import type { FlowRunHandle } from '../runtime/runFlow.ts';
import type { Store } from '../stores/index.ts';
import type { FlowModule } from './loadFlow.ts';
import { openFlowRun } from '../runtime/runFlow.ts';

/** What a change does when no other process drives the run: it opens the run here. */
export type DirectChange = (opened: { module: FlowModule; store: Store; runId: string }) => Promise<string>;

/** A handle on a stored run that applies manual changes without running anything. */
export function pausedHandle(module: FlowModule, store: Store, runId: string): FlowRunHandle {
  return openFlowRun(module.flow, { store, runId, resume: true, listeners: module.listeners, log: () => {} }, { paused: true });
}

/**
 * A direct change through a paused handle (nothing runs): `change` acts on the instance, and the
 * message says how its state moved.
 */
export function onPausedRun(taskKey: string, change: (handle: FlowRunHandle) => string | void): DirectChange {
  return async ({ module, store, runId }) => {
    const handle = pausedHandle(module, store, runId);
    try {
      await handle.ready();
      const before = handle.taskInstance(taskKey)?.state;
      const said = change(handle);
      await handle.persisted();
      return said ?? `${taskKey}: ${before} → ${handle.taskInstance(taskKey)?.state}`;
    } finally {
      await handle.shutdown({ graceMs: 0 });
    }
  };
}
