import { CoverageError } from './errors.ts';
import type { EdgeDefinition } from './machineGraph.ts';

/**
 * Which states and definition edges of one machine a traversal reached. Produced by
 * {@link pathTests}; combine the coverage of several inputs with {@link mergeCoverage}.
 *
 * @example
 * ```ts
 * import { createMachine } from 'xstate';
 * import { pathTests, formatCoverage } from 'taskmachine/testing';
 * const light = createMachine({
 *   id: 'light',
 *   initial: 'green',
 *   states: { green: { on: { NEXT: 'yellow' } }, yellow: { on: { NEXT: 'red' } }, red: { on: { NEXT: 'green' } }, off: {} },
 * });
 * const { coverage } = pathTests(light, { events: [{ type: 'NEXT' }] });
 * coverage.uncoveredStates; // ['off']
 * formatCoverage(coverage); // 'light: 3/4 states, 3/3 edges'
 * ```
 */
export interface Coverage {
  /** The machine's id. */
  readonly machineId: string;
  /** Every state of the definition (dot paths, definition order). */
  readonly states: readonly string[];
  /** States some traversed snapshot was in. */
  readonly coveredStates: readonly string[];
  /** States never reached. */
  readonly uncoveredStates: readonly string[];
  /** Every edge of the definition. */
  readonly edges: readonly EdgeDefinition[];
  /** Edges some traversed step took. */
  readonly coveredEdges: readonly EdgeDefinition[];
  /** Edges never taken. */
  readonly uncoveredEdges: readonly EdgeDefinition[];
  /**
   * Event types given in `events` that no transition of the machine handles (a misspelling, or
   * an event of another machine): they can never be taken, so {@link assertFullCoverage} fails.
   */
  readonly unmatchedEvents: readonly string[];
}

/**
 * Anything that has a coverage: a {@link Coverage} or a suite returned by `pathTests`.
 *
 * @example
 * ```ts
 * const sources: CoverageSource[] = [suite, suite.coverage];
 * ```
 */
export type CoverageSource = Coverage | { readonly coverage: Coverage };

/**
 * @internal Builds a coverage from the covered sets, keeping definition order.
 *
 * @example
 * ```ts
 * createCoverage('light', ['on', 'off'], edges, new Set(['on']), new Set()).uncoveredStates; // ['off']
 * ```
 */
export function createCoverage(
  machineId: string,
  states: readonly string[],
  edges: readonly EdgeDefinition[],
  coveredStates: ReadonlySet<string>,
  coveredEdgeIds: ReadonlySet<string>,
  unmatchedEvents: readonly string[] = [],
): Coverage {
  return {
    machineId,
    states,
    coveredStates: states.filter((state) => coveredStates.has(state)),
    uncoveredStates: states.filter((state) => !coveredStates.has(state)),
    edges,
    coveredEdges: edges.filter((edge) => coveredEdgeIds.has(edge.id)),
    uncoveredEdges: edges.filter((edge) => !coveredEdgeIds.has(edge.id)),
    unmatchedEvents,
  };
}

/**
 * Combines the coverage of several traversals of the same machine (e.g. one per input): a state
 * or edge is covered if any traversal covered it.
 *
 * @throws Error when the sources belong to different machines.
 * @example
 * ```ts
 * import { mergeCoverage, pathTests, taskInstanceEvents, taskInstanceStateKey } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const suites = [0, 1].map((retries) =>
 *   pathTests(taskInstanceMachine, {
 *     input: { retries, maxInterruptions: 1 },
 *     events: (snapshot) => taskInstanceEvents(snapshot),
 *     serializeState: taskInstanceStateKey,
 *   }),
 * );
 * suites[0].coverage.uncoveredEdges.length; // 2 (with no retry, the retry branches are never taken)
 * mergeCoverage(...suites).uncoveredEdges; // []
 * ```
 */
export function mergeCoverage(...sources: readonly CoverageSource[]): Coverage {
  const coverages = sources.map(toCoverage);
  const [first] = coverages;
  if (!first) throw new Error('mergeCoverage: pass at least one coverage or suite.');
  const ids = first.edges.map((edge) => edge.id).join('\n');
  for (const other of coverages) {
    if (other.machineId !== first.machineId || other.edges.map((edge) => edge.id).join('\n') !== ids) {
      throw new Error(
        `mergeCoverage: cannot merge coverage of '${other.machineId}' into '${first.machineId}'; ` +
          'merge suites of one machine at a time.',
      );
    }
  }
  const states = new Set(coverages.flatMap((coverage) => coverage.coveredStates));
  const edges = new Set(coverages.flatMap((coverage) => coverage.coveredEdges.map((edge) => edge.id)));
  // An event type no transition handles is so in every source: merging unites them.
  const unmatched = [...new Set(coverages.flatMap((coverage) => coverage.unmatchedEvents))];
  return createCoverage(first.machineId, first.states, first.edges, states, edges, unmatched);
}

/**
 * Throws {@link CoverageError} unless every state was reached and every definition edge taken by
 * at least one of the sources (merged as in {@link mergeCoverage}), and every event type given in
 * `events` matches some transition of the machine. Use it as the last test of a
 * generated suite so a dead transition, a guard that can never pass or a missing event payload
 * fails the build with the exact edges named.
 *
 * @example
 * ```ts
 * import { it } from 'vitest';
 * import { pathTests, assertFullCoverage } from 'taskmachine/testing';
 * const suite = pathTests(machine, { events });
 * it('covers every state and edge', () => assertFullCoverage(suite));
 * ```
 */
export function assertFullCoverage(...sources: readonly CoverageSource[]): void {
  const coverage = mergeCoverage(...sources);
  if (coverage.uncoveredStates.length || coverage.uncoveredEdges.length || coverage.unmatchedEvents.length) {
    throw new CoverageError({
      machineId: coverage.machineId,
      unreachableStates: coverage.uncoveredStates,
      uncoveredEdges: coverage.uncoveredEdges,
      unmatchedEvents: coverage.unmatchedEvents,
      eventTypes: [...new Set(coverage.edges.map((edge) => edge.eventType))],
      totalStates: coverage.states.length,
      totalEdges: coverage.edges.length,
    });
  }
}

/**
 * One-line summary of a coverage, for logs and reporters (event types of `events` that match no
 * transition are added at the end, when there are any).
 *
 * @example
 * ```ts
 * import { formatCoverage, pathTests, taskInstanceEvents, taskInstanceStateKey } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const suite = pathTests(taskInstanceMachine, {
 *   input: { retries: 1, maxInterruptions: 1 },
 *   events: (snapshot) => taskInstanceEvents(snapshot),
 *   serializeState: taskInstanceStateKey,
 * });
 * formatCoverage(suite); // 'taskInstance: 14/14 states, 76/76 edges'
 * ```
 */
export function formatCoverage(source: CoverageSource): string {
  const coverage = toCoverage(source);
  return (
    `${coverage.machineId}: ${coverage.coveredStates.length}/${coverage.states.length} states, ` +
    `${coverage.coveredEdges.length}/${coverage.edges.length} edges` +
    (coverage.unmatchedEvents.length ? `, events matching no transition: ${coverage.unmatchedEvents.join(', ')}` : '')
  );
}

function toCoverage(source: CoverageSource): Coverage {
  return 'coverage' in source ? source.coverage : source;
}
