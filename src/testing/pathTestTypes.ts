// The public types of {@link pathTests}: its options, the suite it returns and the cases in it
// (apart from the traversal, so each file stays one concept).
import type { AnyStateMachine, EventFromLogic, InputFrom, SnapshotFrom } from 'xstate';
import type { Coverage } from './coverage.ts';
import type { EdgeDefinition } from './machineGraph.ts';

/**
 * Options of {@link pathTests}.
 *
 * @example
 * ```ts
 * import { taskInstanceStateKey, type PathTestOptions } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const options: PathTestOptions<typeof taskInstanceMachine> = {
 *   input: { retries: 1 },
 *   events: (snapshot) => [{ type: 'SCHEDULE' }, { type: 'START', attempt: snapshot.context.attempt }],
 *   // The raw attempt would make the graph infinite (clearing grants new attempts without end).
 *   serializeState: taskInstanceStateKey,
 * };
 * ```
 */
export interface PathTestOptions<TMachine extends AnyStateMachine> {
  /**
   * The events to try in every state, with representative payloads. A function receives the
   * snapshot, so payloads can depend on the context (e.g. `START` with the current attempt).
   * These replace XState's own event discovery: event types not listed are never explored.
   */
  readonly events:
    | readonly EventFromLogic<TMachine>[]
    | ((snapshot: SnapshotFrom<TMachine>) => readonly EventFromLogic<TMachine>[]);
  /**
   * Input for the machine's context factory.
   * @default undefined
   */
  readonly input?: InputFrom<TMachine>;
  /**
   * Key that decides when two snapshots are the same vertex of the graph. Keep every context field
   * that guards or event payloads depend on, and drop the rest (counters, ids, timestamps) so the
   * graph is finite. Two snapshots with the same key must accept the same events with the same
   * results, or paths through the merged vertex may miss behaviour.
   * @default JSON of the state value and the whole context (`serializeSnapshot` of `xstate/graph`)
   */
  readonly serializeState?: (snapshot: SnapshotFrom<TMachine>) => string;
  /**
   * Which of the `events` to take in a snapshot.
   * @default (snapshot, event) => snapshot.can(event) — only events the machine accepts
   */
  readonly filterEvents?: (snapshot: SnapshotFrom<TMachine>, event: EventFromLogic<TMachine>) => boolean;
  /**
   * Longest simple path, in events; longer paths are cut at this length (and still tested).
   * @default Infinity
   */
  readonly maxPathLength?: number;
  /**
   * Most simple paths the enumeration may visit before it throws {@link TraversalLimitError},
   * counting every prefix it extends, the empty path included (a chain `a → b → c → d` visits
   * four: one path is returned).
   * @default 10_000
   */
  readonly maxPaths?: number;
  /**
   * Most transitions the graph exploration may try before it throws {@link TraversalLimitError}.
   * @default 100_000
   */
  readonly limit?: number;
  /**
   * Keep paths that are a prefix of another path. By default only maximal simple paths are
   * returned: a longer path checks every state of its prefixes on the way.
   * @default false
   */
  readonly allowDuplicatePaths?: boolean;
  /**
   * How events are written in case names.
   * @default formatEvent — `TYPE(key=value, flag)`
   */
  readonly formatEvent?: (event: EventFromLogic<TMachine>) => string;
}

/**
 * One step of a path: the event, the snapshots around it and the definition edge(s) it took.
 *
 * @example
 * ```ts
 * path.run((step) => {
 *   sut.apply(step.event);
 *   assert.equal(sut.status, step.after.value, step.label);
 * });
 * ```
 */
export interface PathStep<TMachine extends AnyStateMachine = AnyStateMachine> {
  /** Position in the path, 1-based. */
  readonly index: number;
  /** The event sent in this step. */
  readonly event: EventFromLogic<TMachine>;
  /** The machine's snapshot before the event. */
  readonly before: SnapshotFrom<TMachine>;
  /** The machine's snapshot after the event: what the system under test should now show. */
  readonly after: SnapshotFrom<TMachine>;
  /** Definition edges taken (one for a plain machine; one per region for parallel states). */
  readonly edges: readonly EdgeDefinition[];
  /** E.g. `'queued →START(attempt=1)→ running'`. */
  readonly label: string;
}

/**
 * A sequence of events from the initial state, with the snapshot expected after each one, to be
 * replayed against a live actor or any implementation.
 *
 * @example
 * ```ts
 * for (const path of suite.paths) {
 *   it(path.name, () => {
 *     const sut = new Door();
 *     path.run((step) => {
 *       sut.handle(step.event);
 *       expect(sut.state).toBe(step.after.value);
 *     });
 *   });
 * }
 * ```
 */
export interface PathCase<TMachine extends AnyStateMachine = AnyStateMachine> {
  /**
   * Readable, and unique among the suite's paths (an edge case's among its edges): a name that
   * would repeat gets ` #2`, ` #3`… E.g. `'none →SCHEDULE→ scheduled →QUEUE→ queued'`.
   */
  readonly name: string;
  /** The input the path was computed with (create the system under test with the same one). */
  readonly input: InputFrom<TMachine> | undefined;
  /** The initial snapshot. */
  readonly initial: SnapshotFrom<TMachine>;
  /** The snapshot at the end of the path. */
  readonly state: SnapshotFrom<TMachine>;
  /** The steps, in order (empty for the path that stays in the initial state). */
  readonly steps: readonly PathStep<TMachine>[];
  /**
   * Calls `driver` with each step in order. A throw stops the run; its message gets the failing
   * step and the whole path appended.
   */
  run(driver: (step: PathStep<TMachine>) => void): void;
  /** Like `run`, awaiting `driver` after each step. */
  runAsync(driver: (step: PathStep<TMachine>) => void | Promise<void>): Promise<void>;
}

/**
 * A path whose last step takes one particular definition edge (the shortest such path found).
 * Its `name` is the edge's label (with ` #2`… for a label that two edges share, e.g. two inline
 * guards on one event and target); `pathName` is the whole path.
 *
 * @example
 * ```ts
 * for (const edgeCase of suite.edges) it(edgeCase.name, () => edgeCase.run(drive));
 * ```
 */
export interface EdgeCase<TMachine extends AnyStateMachine = AnyStateMachine> extends PathCase<TMachine> {
  /** The edge this case covers. */
  readonly edge: EdgeDefinition;
  /** Name of the whole path, as a {@link PathCase} would have it. */
  readonly pathName: string;
}

/**
 * A vertex of the explored graph (one `serializeState` key) with a shortest path to it.
 *
 * @example
 * ```ts
 * const upForReschedule = suite.vertices.find((v) => v.state.value === 'up_for_reschedule');
 * upForReschedule?.path.run(drive);
 * ```
 */
export interface VertexCase<TMachine extends AnyStateMachine = AnyStateMachine> {
  /** The `serializeState` key. */
  readonly key: string;
  /** The first snapshot found with that key. */
  readonly state: SnapshotFrom<TMachine>;
  /** A shortest path from the initial state to `state`. */
  readonly path: PathCase<TMachine>;
}

/**
 * What {@link pathTests} returns: test cases and the coverage they achieve.
 *
 * @example
 * ```ts
 * const suite = pathTests(machine, { events });
 * suite.edges.length; // one case per covered definition edge
 * suite.paths.length; // one case per maximal simple path
 * ```
 */
export interface PathTestSuite<TMachine extends AnyStateMachine = AnyStateMachine> {
  /** The machine's id. */
  readonly machineId: string;
  /** The input used. */
  readonly input: InputFrom<TMachine> | undefined;
  /** Every reached vertex with a shortest path to it, in breadth-first order. */
  readonly vertices: readonly VertexCase<TMachine>[];
  /** One case per covered definition edge, in definition order. */
  readonly edges: readonly EdgeCase<TMachine>[];
  /** One case per simple path (maximal ones unless `allowDuplicatePaths`), depth-first order. */
  readonly paths: readonly PathCase<TMachine>[];
  /** States and edges reached, and those that were not. */
  readonly coverage: Coverage;
}
