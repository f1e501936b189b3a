import {
  getInitialMicrosteps,
  getMicrosteps,
  transition,
  type ActorLogic,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type EventFromLogic,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';
import { getAdjacencyMap, serializeSnapshot } from 'xstate/graph';
import { createCoverage } from './coverage.ts';
import { TraversalLimitError } from './errors.ts';
import { assertEvents, assertMachine, assertPathTestOptions, unmatchedEventTypes } from './validate.ts';
import { formatEvent as defaultFormatEvent } from './formatEvent.ts';
import {
  definitionGraph,
  formatStateValue,
  machineStates,
  statePath,
  type EdgeDefinition,
} from './machineGraph.ts';
import type { EdgeCase, PathCase, PathStep, PathTestOptions, PathTestSuite, VertexCase } from './pathTestTypes.ts';

export type { EdgeCase, PathCase, PathStep, PathTestOptions, PathTestSuite, VertexCase } from './pathTestTypes.ts';

interface GraphStep {
  readonly event: unknown;
  readonly before: AnyMachineSnapshot;
  readonly after: AnyMachineSnapshot;
  readonly edges: readonly EdgeDefinition[];
}

/**
 * Model-based test cases for an XState machine, derived from its graph:
 *
 * - `edges`: for every definition edge (every source state × event type × guard branch, read from
 *   the machine's definition) that the traversal reaches, the shortest path ending with that edge;
 * - `paths`: every simple path from the initial state (no vertex twice), bounded by
 *   `maxPathLength`/`maxPaths`;
 * - `vertices`: a shortest path to every reached vertex;
 * - `coverage`: which states and definition edges were reached — {@link assertFullCoverage} turns a
 *   gap into a failing test that names it.
 *
 * The vertices and reached edges come from `getAdjacencyMap` of `xstate/graph`, run with your
 * `events` and `serializeState`; simple paths are enumerated on concrete snapshots (each step is
 * computed from the previous one), so every path replays exactly on a live actor.
 *
 * Each case's `run(driver)` hands the steps to your driver: send `step.event` to the system under
 * test (a live actor, a class, a service) and compare it with `step.after`.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { createActor } from 'xstate';
 * import { pathTests, taskInstanceStateKey } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 *
 * const suite = pathTests(taskInstanceMachine, {
 *   input: { retries: 1 },
 *   events: (s) => [{ type: 'SCHEDULE' }, { type: 'QUEUE' }, { type: 'START', attempt: s.context.attempt }],
 *   serializeState: taskInstanceStateKey,
 * });
 * describe('task instance', () => {
 *   for (const path of suite.paths) {
 *     it(path.name, () => {
 *       const actor = createActor(taskInstanceMachine, { input: path.input }).start();
 *       path.run((step) => {
 *         actor.send(step.event);
 *         expect(actor.getSnapshot().value).toBe(step.after.value);
 *       });
 *     });
 *   }
 * });
 * ```
 */
export function pathTests<TMachine extends AnyStateMachine>(
  machine: TMachine,
  // NoInfer: the machine alone decides TMachine. Inferring it from the options too made
  // TypeScript widen an `events` function's literals ('SCHEDULE' became string) and refuse it.
  options: NoInfer<PathTestOptions<TMachine>>,
): PathTestSuite<TMachine> {
  type Snapshot = SnapshotFrom<TMachine>;
  type Event = EventFromLogic<TMachine>;
  assertMachine('pathTests', machine);
  const machineId = machine.id;
  assertPathTestOptions(machineId, options);
  const serialize = (options.serializeState ?? serializeSnapshot) as (snapshot: Snapshot) => string;
  const filterEvents =
    options.filterEvents ?? ((snapshot: Snapshot, event: Event) => (snapshot as AnyMachineSnapshot).can(event));
  // Every event type tried, to report those that no transition handles (a misspelt type is
  // otherwise just never accepted, and the coverage gap it leaves does not say why).
  const triedTypes = new Set<string>();
  const eventsOf = (snapshot: Snapshot): readonly Event[] => {
    if (typeof options.events !== 'function') return options.events;
    const events = options.events(snapshot);
    assertEvents(`pathTests(${machineId})`, events);
    for (const event of events) triedTypes.add(event.type);
    return events;
  };
  if (typeof options.events !== 'function') for (const event of options.events) triedTypes.add(event.type);
  const maxPathLength = options.maxPathLength ?? Number.POSITIVE_INFINITY;
  const maxPaths = options.maxPaths ?? 10_000;
  const limit = options.limit ?? 100_000;
  const formatEvent = (options.formatEvent ?? defaultFormatEvent) as (event: Event) => string;
  const { edges: allEdges, byTransition } = definitionGraph(machine);

  const coveredStates = new Set<string>();
  const coveredEdgeIds = new Set<string>();
  const edgesTaken = (before: Snapshot, event: Event): EdgeDefinition[] => {
    const taken = machine.getTransitionData(before, event) as AnyTransitionDefinition[];
    return taken.map((definition) => {
      const edge = byTransition.get(definition);
      if (!edge) throw new Error(`pathTests(${machineId}): transition not found in the definition.`);
      coveredEdgeIds.add(edge.id);
      return edge;
    });
  };
  const noteStates = (snapshot: Snapshot) => {
    for (const node of (snapshot as AnyMachineSnapshot)._nodes) {
      if (node !== machine.root) coveredStates.add(statePath(node));
    }
  };
  // A state that an eventless (`always`) transition leaves at once is entered and left inside one
  // step: the snapshot after the step does not show it, its microsteps do. Computing them costs a
  // second evaluation of the step, so only machines that have eventless transitions pay for it.
  const passesThrough = hasEventlessTransitions(machine);
  const noteStep = (before: Snapshot, event: Event, after: Snapshot) => {
    if (passesThrough) {
      for (const [microstep] of getMicrosteps(machine, before, event)) noteStates(microstep as Snapshot);
    }
    noteStates(after);
  };
  if (passesThrough) {
    for (const [microstep] of getInitialMicrosteps(machine as AnyStateMachine, options.input)) noteStates(microstep as Snapshot);
  }

  // 1. Vertices and reached edges: breadth-first exploration by xstate/graph.
  let adjacency: ReturnType<typeof getAdjacencyMap<Snapshot, Event, InputFrom<TMachine>>>;
  try {
    adjacency = getAdjacencyMap(machine as unknown as ActorLogic<Snapshot, Event, InputFrom<TMachine>>, {
      input: options.input,
      events: eventsOf,
      filterEvents,
      serializeState: (snapshot) => serialize(snapshot),
      limit,
    });
  } catch (error) {
    if (error instanceof Error && error.message === 'Traversal limit exceeded') {
      throw new TraversalLimitError(machineId, 'limit', limit);
    }
    throw error;
  }
  const keys = Object.keys(adjacency);
  const initialKey = keys[0]!;
  const initial = adjacency[initialKey as keyof typeof adjacency]!.state;

  // Shortest paths: the adjacency map is built breadth first, and each vertex's snapshot is the
  // object produced by exactly one transition of an earlier vertex; following those transitions
  // gives shortest paths whose every step is computed from the previous step's snapshot.
  const parent = new Map<string, { from: string; step: GraphStep }>();
  const outgoing = new Map<string, GraphStep[]>();
  for (const key of keys) {
    const vertex = adjacency[key as keyof typeof adjacency]!;
    noteStates(vertex.state);
    const steps: GraphStep[] = [];
    for (const { event, state: after } of Object.values(vertex.transitions)) {
      noteStep(vertex.state, event as Event, after);
      const step = { event, before: vertex.state, after, edges: edgesTaken(vertex.state, event) } as GraphStep;
      steps.push(step);
      const toKey = serialize(after);
      const to = adjacency[toKey as keyof typeof adjacency];
      if (to && to.state === after && toKey !== initialKey && !parent.has(toKey)) {
        parent.set(toKey, { from: key, step });
      }
    }
    outgoing.set(key, steps);
  }
  const stepsTo = (key: string): GraphStep[] => {
    const steps: GraphStep[] = [];
    for (let at = key; at !== initialKey; ) {
      const link = parent.get(at);
      if (!link) throw new Error(`pathTests(${machineId}): no path to vertex ${at}.`);
      steps.unshift(link.step);
      at = link.from;
    }
    return steps;
  };

  // Case names are test names, which a runner reports (and may merge) by name: within each list
  // a repeated name gets ` #2`, ` #3`… (two inline guards on one event and target share a label).
  const uniqueNames = () => {
    const used = new Map<string, number>();
    return (name: string) => {
      const seen = used.get(name) ?? 0;
      used.set(name, seen + 1);
      return seen ? `${name} #${seen + 1}` : name;
    };
  };
  const makeCase = (graphSteps: readonly GraphStep[], nameOf: (pathName: string) => string) => {
    const steps: PathStep<TMachine>[] = graphSteps.map((step, index) => ({
      index: index + 1,
      event: step.event as Event,
      before: step.before as Snapshot,
      after: step.after as Snapshot,
      edges: step.edges,
      label: `${formatStateValue(step.before.value)} →${formatEvent(step.event as Event)}→ ${formatStateValue(step.after.value)}`,
    }));
    const pathName =
      formatStateValue((initial as AnyMachineSnapshot).value) +
      graphSteps.map((step) => ` →${formatEvent(step.event as Event)}→ ${formatStateValue(step.after.value)}`).join('');
    const name = nameOf(pathName);
    const fail = (error: unknown, step: PathStep<TMachine>) => annotate(error, pathName, steps.length, step);
    const pathCase: PathCase<TMachine> & { pathName: string } = {
      name,
      pathName,
      input: options.input,
      initial: initial as Snapshot,
      state: (graphSteps.length ? graphSteps[graphSteps.length - 1]!.after : initial) as Snapshot,
      steps,
      run(driver) {
        for (const step of steps) {
          try {
            driver(step);
          } catch (error) {
            throw fail(error, step);
          }
        }
      },
      async runAsync(driver) {
        for (const step of steps) {
          try {
            await driver(step);
          } catch (error) {
            throw fail(error, step);
          }
        }
      },
    };
    return pathCase;
  };

  const vertices: VertexCase<TMachine>[] = keys
    .map((key) => ({ key, steps: stepsTo(key) }))
    .sort((a, b) => a.steps.length - b.steps.length)
    .map(({ key, steps }) => {
      const { pathName: _pathName, ...path } = makeCase(steps, (pathName) => pathName);
      return { key, state: adjacency[key as keyof typeof adjacency]!.state, path };
    });

  // 2. One case per reached definition edge: shortest path to a vertex, then the edge; named in
  // definition order, so the first of two edges with one label keeps it.
  const edgePaths = new Map<string, GraphStep[]>();
  for (const vertex of vertices) {
    for (const step of outgoing.get(vertex.key) ?? []) {
      for (const edge of step.edges) {
        if (!edgePaths.has(edge.id)) edgePaths.set(edge.id, [...stepsTo(vertex.key), step]);
      }
    }
  }
  const edgeName = uniqueNames();
  const edges: EdgeCase<TMachine>[] = allEdges.flatMap((edge) => {
    const steps = edgePaths.get(edge.id);
    return steps ? [Object.assign(makeCase(steps, () => edgeName(edge.label)), { edge })] : [];
  });

  // 3. Simple paths, depth first on concrete snapshots.
  const paths: PathCase<TMachine>[] = [];
  const pathCaseName = uniqueNames();
  const onPath = new Set<string>([initialKey]);
  const current: GraphStep[] = [];
  let visited = 0;
  const visit = (snapshot: Snapshot) => {
    if (++visited > maxPaths) throw new TraversalLimitError(machineId, 'maxPaths', maxPaths);
    const record = () => {
      const { pathName: _pathName, ...path } = makeCase([...current], pathCaseName);
      paths.push(path);
    };
    if (options.allowDuplicatePaths) record();
    let extended = false;
    if (current.length < maxPathLength) {
      for (const event of eventsOf(snapshot)) {
        if (!filterEvents(snapshot, event)) continue;
        const [after] = transition(machine, snapshot, event);
        const key = serialize(after as Snapshot);
        if (onPath.has(key)) continue;
        extended = true;
        noteStep(snapshot, event, after as Snapshot);
        onPath.add(key);
        current.push({ event, before: snapshot, after, edges: edgesTaken(snapshot, event) } as GraphStep);
        visit(after as Snapshot);
        current.pop();
        onPath.delete(key);
      }
    }
    if (!options.allowDuplicatePaths && !extended) record();
  };
  visit(initial);

  return {
    machineId,
    input: options.input,
    vertices,
    edges,
    paths,
    coverage: createCoverage(
      machineId,
      machineStates(machine),
      allEdges,
      coveredStates,
      coveredEdgeIds,
      unmatchedEventTypes(
        allEdges.map((edge) => edge.eventType),
        triedTypes,
      ),
    ),
  };
}

/** True when some state of `machine` has an eventless (`always`) transition. */
function hasEventlessTransitions(machine: AnyStateMachine): boolean {
  const visit = (node: AnyStateNode): boolean =>
    Boolean(node.always?.length) || (Object.values(node.states) as AnyStateNode[]).some(visit);
  return visit(machine.root);
}

const annotated = new WeakSet<Error>();

function annotate(error: unknown, pathName: string, length: number, step: PathStep): unknown {
  if (error instanceof Error && !annotated.has(error)) {
    annotated.add(error);
    error.message += `\n\nFailed at step ${step.index} of ${length}: ${step.label}\nPath: ${pathName}`;
  }
  return error;
}
