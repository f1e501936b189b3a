import type { AnyStateMachine, EventObject } from 'xstate';
import { taskInstanceMachine, type TaskInstanceMachine } from '../../../machines/index.ts';

/**
 * Options of {@link memoizedMachine}.
 */
export interface MemoizedMachineOptions {
  /**
   * Most distinct snapshots kept. When a new one would exceed it, the memo starts over (snapshots
   * are immutable, so forgetting them is always safe): memory stays bounded and the configurations
   * in use are remembered again at once.
   * @default 4096
   */
  maxSnapshots?: number;
}

/** What the memo holds; exposed for tests and benchmarks. */
export interface MemoStats {
  /** Distinct snapshots interned. */
  snapshots: number;
  /** Transitions answered from the memo. */
  hits: number;
  /** Transitions computed by the machine (then remembered when there was room). */
  misses: number;
}

type Snapshot = ReturnType<AnyStateMachine['transition']>;

/** A machine with its answers remembered; see {@link memoizedMachine}. */
export type MemoizedMachine<TMachine extends AnyStateMachine> = TMachine & {
  /** `snapshot.can(event)`, remembered like transitions are. */
  readonly can: (snapshot: ReturnType<TMachine['transition']>, event: Parameters<TMachine['transition']>[1]) => boolean;
  /** What the memo holds. */
  readonly memoStats: () => MemoStats;
};

interface Interned {
  /** Next snapshot by event key. */
  readonly next: Map<string, Snapshot>;
  /** `snapshot.can(event)` by event key. */
  readonly can: Map<string, boolean>;
}

/**
 * The same machine, with every transition it has computed remembered and every snapshot shared.
 *
 * Why: XState's general algorithm (sets of state nodes, exit/entry sets, eventless checks) allocates
 * about 13 KB per transition, 66 KB over a task instance's short life, even on a flat machine. A
 * workflow runtime sends the same few events to thousands of instances that are in the same few
 * (state, context) configurations, so it asks the machine the same questions over and over. Each
 * answer is computed once, by the machine itself, and shared: the actors stay XState actors, the
 * snapshots stay the machine's own snapshots (same `machine`, `value`, `context`, `can()`), and no
 * transition is written anywhere but in the machine.
 *
 * Sound only for a machine whose transition is a pure function of (state value, context, event):
 * actions are `assign`s or no-ops, no invoked or spawned children, no delayed events, no history,
 * a context of primitives. The constructor checks the first; snapshots with children or a context
 * holding objects, and events carrying objects, are simply not memoized. What is skipped on a memo
 * hit: the machine's no-op actions and XState's `@xstate.microstep` inspection events (the
 * `@xstate.event` and `@xstate.snapshot` ones are still sent).
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const logic = memoizedMachine(taskInstanceMachine);
 * const actor = createActor(logic, { input: { retries: 1 } }).start();
 * actor.send({ type: 'SCHEDULE' });
 * actor.getSnapshot().value; // 'scheduled' — the same snapshot object every other instance gets
 * ```
 */
export function memoizedMachine<TMachine extends AnyStateMachine>(
  machine: TMachine,
  options: MemoizedMachineOptions = {},
  noopActions: readonly string[] = [],
): MemoizedMachine<TMachine> {
  assertPureActions(machine, noopActions);
  const maxSnapshots = options.maxSnapshots ?? 4096;
  const interned = new Map<Snapshot, Interned>();
  const byShape = new Map<string, Snapshot>();
  const initial = new Map<string, Snapshot>();
  let hits = 0;
  let misses = 0;

  /** The shared snapshot equal to `snapshot`, or `snapshot` itself when it cannot be shared. */
  const intern = (snapshot: Snapshot): Snapshot => {
    if (interned.has(snapshot)) return snapshot;
    const shape = shapeKey(snapshot);
    if (shape === undefined) return snapshot;
    const known = byShape.get(shape);
    if (known !== undefined) return known;
    if (interned.size >= maxSnapshots) {
      interned.clear();
      byShape.clear();
      initial.clear();
    }
    byShape.set(shape, snapshot);
    interned.set(snapshot, { next: new Map(), can: new Map() });
    return snapshot;
  };

  // Prototype delegation: every other method and property (root, getTransitionData, resolveState,
  // getPersistedSnapshot, types) is the machine's own.
  const logic = Object.create(machine, {
    getInitialSnapshot: {
      value(actorScope: unknown, input: unknown): Snapshot {
        const key = keyOf(input);
        if (key === undefined) return machine.getInitialSnapshot(actorScope as never, input);
        let snapshot = initial.get(key);
        if (snapshot === undefined) {
          misses++;
          snapshot = intern(machine.getInitialSnapshot(actorScope as never, input));
          if (interned.has(snapshot)) initial.set(key, snapshot);
        } else hits++;
        return snapshot;
      },
    },
    restoreSnapshot: {
      value(persisted: unknown, actorScope: unknown): Snapshot {
        return intern(machine.restoreSnapshot(persisted as never, actorScope as never) as Snapshot);
      },
    },
    transition: {
      value(snapshot: Snapshot, event: EventObject, actorScope: unknown): Snapshot {
        const entry = interned.get(snapshot);
        const key = entry === undefined ? undefined : keyOf(event);
        // Not remembered (restored some other way, or forgotten when the memo started over): the
        // machine answers, and the answer joins the memo when it can be shared.
        if (key === undefined) return intern(machine.transition(snapshot, event, actorScope as never));
        const known = entry!.next.get(key);
        if (known !== undefined) {
          hits++;
          return known;
        }
        misses++;
        const next = intern(machine.transition(snapshot, event, actorScope as never));
        if (interned.has(next)) entry!.next.set(key, next);
        return next;
      },
    },
    can: {
      value(snapshot: Snapshot, event: EventObject): boolean {
        const entry = interned.get(snapshot);
        const key = entry === undefined ? undefined : keyOf(event);
        if (key === undefined) return snapshot.can(event);
        let answer = entry!.can.get(key);
        if (answer === undefined) {
          answer = snapshot.can(event);
          entry!.can.set(key, answer);
        }
        return answer;
      },
    },
    memoStats: { value: (): MemoStats => ({ snapshots: interned.size, hits, misses }) },
  });
  return logic as MemoizedMachine<TMachine>;
}

/** Refuses a machine with an action that may have effects: memoizing would skip them. */
function assertPureActions(machine: AnyStateMachine, noopActions: readonly string[]): void {
  const actions = (machine.implementations.actions ?? {}) as Record<string, unknown>;
  for (const [name, action] of Object.entries(actions)) {
    const type = (action as { type?: unknown }).type;
    if (type === 'xstate.assign' || noopActions.includes(name)) continue;
    throw new Error(
      `memoizedMachine: action '${name}' of machine '${machine.id}' is not an assign; a memoized transition would skip its effects. Make it an assign, or list it as a no-op.`,
    );
  }
}

/**
 * A key for the value and context of a snapshot that can be shared, or undefined: only active
 * snapshots without children, with a string state value and a context of primitives qualify.
 */
function shapeKey(snapshot: Snapshot): string | undefined {
  if (typeof snapshot.value !== 'string') return undefined;
  for (const _ in snapshot.children) return undefined;
  const context = primitiveKey(snapshot.context);
  if (context === undefined) return undefined;
  return `${snapshot.status}\u0000${snapshot.value}\u0000${context}`;
}

/** Keys of the objects made by {@link keyedObject}, computed once. */
const knownKeys = new WeakMap<object, string>();

/**
 * `value` frozen, with its memo key computed once: the runtime sends the same few events (and
 * creates actors with the same few inputs) over and over, and building the key, a string, for each
 * `can` and each transition was a measurable part of every task instance's cost. Only for plain
 * objects of primitives the caller made itself (nobody else can change them).
 */
export function keyedObject<T extends object>(value: T): Readonly<T> {
  const key = primitiveKey(value);
  Object.freeze(value);
  if (key !== undefined) knownKeys.set(value, key);
  return value;
}

/** The memo key of an event or input: remembered for a {@link keyedObject}, else built. */
function keyOf(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null) {
    const known = knownKeys.get(value);
    if (known !== undefined) return known;
  }
  return primitiveKey(value);
}

/** A key for an object whose own values are all primitives (event, input, context), or undefined. */
function primitiveKey(value: unknown): string | undefined {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object') return undefined;
  let key = '';
  for (const name in value) {
    const field = (value as Record<string, unknown>)[name];
    if (field !== null && (typeof field === 'object' || typeof field === 'function')) return undefined;
    key += `${name}=${typeof field === 'string' ? JSON.stringify(field) : String(field)};`;
  }
  return key;
}

/**
 * The task-instance machine, memoized: what every task instance's actor runs. Its only non-assign
 * action, `acknowledgeDuplicateStart`, is a no-op.
 */
export const taskInstanceLogic: MemoizedMachine<TaskInstanceMachine> = memoizedMachine(
  taskInstanceMachine,
  {},
  ['acknowledgeDuplicateStart'],
);
