import type { TaskInstanceEvent } from '../../../machines/index.ts';
import { keyedObject } from './memoizedMachine.ts';

/**
 * The events every task instance receives on its way through a run, made once: frozen, with the
 * memoized machine's key for them computed once (see `keyedObject`), instead of a new object and a
 * new key string per instance and per event.
 */
export const SCHEDULE: TaskInstanceEvent = keyedObject({ type: 'SCHEDULE' });
export const QUEUE: TaskInstanceEvent = keyedObject({ type: 'QUEUE' });
export const SUCCEED: TaskInstanceEvent = keyedObject({ type: 'SUCCEED' });

/** `START` of attempts 1–16 (later ones are made as needed). */
const starts: TaskInstanceEvent[] = Array.from({ length: 17 }, (_, attempt) => keyedObject({ type: 'START', attempt }));

/** The `START` event of `attempt`. */
export function startEvent(attempt: number): TaskInstanceEvent {
  return (attempt >= 0 && attempt < starts.length ? starts[attempt] : undefined) ?? { type: 'START', attempt };
}

/** Actor inputs by retries, then by maxInterruptions (a run has a few distinct ones). */
const inputs = new Map<number, Map<number, Readonly<{ retries: number; maxInterruptions: number }>>>();

/** The input of a fresh task-instance actor, one shared object per (retries, maxInterruptions). */
export function actorInput(retries: number, maxInterruptions: number): Readonly<{ retries: number; maxInterruptions: number }> {
  let byMax = inputs.get(retries);
  if (byMax === undefined) inputs.set(retries, (byMax = new Map()));
  let input = byMax.get(maxInterruptions);
  if (input === undefined) byMax.set(maxInterruptions, (input = keyedObject({ retries, maxInterruptions })));
  return input;
}
