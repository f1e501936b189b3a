import { taskInstanceMachine } from '../../machines/index.ts';
import { taskInstanceStateKey } from '../../src/testing/index.ts';
import { defineModelSuite } from './modelSuite.ts';
import {
  initialTaskModel,
  taskInstanceEvents,
  taskInstanceSpec,
  type TaskModel,
} from './taskInstanceSpec.ts';

/**
 * Generated from the graph of taskInstanceMachine: one test per definition edge and per maximal
 * simple path, for retries 0, 1 and 2, each step checked against the hand-written DESIGN §3 table.
 *
 * Bound: vertices are (state, attempts left, awaits an event). Guards only look at those, and clearing resets the
 * budget to retries + 1, so the graph is finite and every simple path is enumerated (no length
 * cut). retries 0..2 is enough to take every edge: retries 0 exhausts at once, 1 and 2 add the
 * retry branches and paths that retry more than once.
 */
defineModelSuite({
  title: 'taskInstanceMachine',
  machine: taskInstanceMachine,
  spec: taskInstanceSpec,
  // maxInterruptions 1 takes both INTERRUPT branches and keeps the graph small.
  variants: [0, 1, 2].map((retries) => ({
    label: `retries=${retries}`,
    input: { retries, maxInterruptions: 1 },
    initialModel: initialTaskModel(retries, 1),
  })),
  events: taskInstanceEvents,
  serializeState: taskInstanceStateKey,
  project: (snapshot): TaskModel => ({ state: String(snapshot.value), ...snapshot.context }),
  bound: 'vertex = state + attempts left + awaitsEvent + interruptions left; all simple paths',
});
