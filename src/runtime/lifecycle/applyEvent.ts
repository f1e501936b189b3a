import { __unsafe_getAllOwnEventDescriptors, type AnyStateMachine, type AnyStateNode, type StateValue } from 'xstate';
import { IllegalTransitionError } from '../../errors.ts';

/** The part of an XState actor `applyEvent` needs. */
export interface LifecycleActor<TEvent extends { type: string }, TSnapshot extends LifecycleSnapshot<TEvent>> {
  getSnapshot(): TSnapshot;
  send(event: TEvent): void;
}

/** The part of a machine snapshot `applyEvent` needs. */
export interface LifecycleSnapshot<TEvent extends { type: string }> {
  value: unknown;
  can(event: TEvent): boolean;
}

/** Event types with a transition out of the snapshot's state (guards not evaluated), sorted. */
export function legalEventTypes(snapshot: object): string[] {
  return __unsafe_getAllOwnEventDescriptors(snapshot as never)
    .filter((type: string) => !type.startsWith('xstate.') && type !== '*')
    .sort();
}

/**
 * Sends `event` to a lifecycle actor if the machine accepts it in the current state, and throws
 * {@link IllegalTransitionError} otherwise. XState silently ignores an event it cannot take; the
 * runtime must never lose a transition that way, so every lifecycle change goes through here.
 *
 * @param subject what the actor is, for the error (a function: built only when it is thrown).
 * @param can answers `snapshot.can(event)` (a memoized machine's `can`); the snapshot's own by default.
 * @returns the snapshot before and after the event.
 */
export function applyEvent<TEvent extends { type: string }, TSnapshot extends LifecycleSnapshot<TEvent>>(
  actor: LifecycleActor<TEvent, TSnapshot>,
  event: TEvent,
  subject: string | (() => string),
  can?: (snapshot: TSnapshot, event: TEvent) => boolean,
): { before: TSnapshot; after: TSnapshot } {
  const before = actor.getSnapshot();
  if (!(can === undefined ? before.can(event) : can(before, event))) {
    const legal = legalEventTypes(before);
    throw new IllegalTransitionError({
      subject: typeof subject === 'string' ? subject : subject(),
      state: statePath(before.value),
      event: event.type,
      legalEvents: legal,
      detail: legal.includes(event.type) ? (guardRule(before, event.type) ?? 'its guard does not allow it here') : undefined,
    });
  }
  actor.send(event);
  return { before, after: actor.getSnapshot() };
}

/**
 * The rule a refused guarded event broke, as the machine states it: the `description` of the
 * event's transitions out of the current state (deepest state first), if they have one.
 */
function guardRule(snapshot: object, eventType: string): string | undefined {
  const { machine, value } = snapshot as { machine?: AnyStateMachine; value?: StateValue };
  if (machine === undefined || value === undefined) return undefined;
  const rules: string[] = [];
  for (const node of activeNodes(machine.root, value).reverse()) {
    for (const transition of node.transitions.get(eventType) ?? []) {
      if (typeof transition.description === 'string') rules.push(transition.description);
    }
  }
  return rules.length > 0 ? rules.join('; ') : undefined;
}

function activeNodes(parent: AnyStateNode, value: StateValue): AnyStateNode[] {
  if (typeof value === 'string') {
    const node = parent.states[value];
    return node === undefined ? [] : [node];
  }
  return Object.entries(value).flatMap(([key, inner]) => {
    const node = parent.states[key];
    return node === undefined ? [] : [node, ...(inner === undefined ? [] : activeNodes(node, inner))];
  });
}

/** A state value as a dot path (`running.stopping` for `{ running: 'stopping' }`). */
function statePath(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return Object.entries(value)
    .map(([key, inner]) => (inner === undefined || (typeof inner === 'object' && Object.keys(inner as object).length === 0) ? key : `${key}.${statePath(inner)}`))
    .join(', ');
}
