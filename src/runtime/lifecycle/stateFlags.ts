import { allTaskInstanceStates, finishedStates, type TaskInstanceState } from '../../../machines/index.ts';

/**
 * Per-state facts the runtime asks on every transition, as plain property reads (cheaper than a
 * `Set` or `Map` lookup of the state's string, asked several times per transition by the change
 * bus's subscribers).
 */
const FINISHED: Record<TaskInstanceState, boolean> = {} as Record<TaskInstanceState, boolean>;
const INDEX: Record<TaskInstanceState, number> = {} as Record<TaskInstanceState, number>;
allTaskInstanceStates.forEach((state, index) => {
  FINISHED[state] = finishedStates.has(state);
  INDEX[state] = index;
});

/** Whether `state` is one of {@link finishedStates}. */
export function isFinished(state: TaskInstanceState): boolean {
  return FINISHED[state];
}

/** The position of `state` in {@link allTaskInstanceStates}. */
export function stateIndex(state: TaskInstanceState): number {
  return INDEX[state];
}
