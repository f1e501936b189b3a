import type { EdgeDefinition } from './machineGraph.ts';

/**
 * Thrown by {@link assertFullCoverage} when some states were never reached, some edges of the
 * definition were never taken, or some event types of `events` match no transition of the
 * machine. The message names every one of them and how to fix it.
 *
 * @example
 * ```ts
 * import { assertFullCoverage, CoverageError } from 'taskmachine/testing';
 * try {
 *   assertFullCoverage(suite);
 * } catch (error) {
 *   if (error instanceof CoverageError) console.log(error.uncoveredEdges.map((e) => e.label));
 * }
 * ```
 */
export class CoverageError extends Error {
  override name = 'CoverageError';
  /** Machine id the coverage belongs to. */
  readonly machineId: string;
  /** States (dot paths) no traversal reached. */
  readonly unreachableStates: readonly string[];
  /** Definition edges no traversal took. */
  readonly uncoveredEdges: readonly EdgeDefinition[];
  /** Event types of the `events` option that no transition handles. */
  readonly unmatchedEvents: readonly string[];

  constructor(options: {
    machineId: string;
    unreachableStates: readonly string[];
    uncoveredEdges: readonly EdgeDefinition[];
    unmatchedEvents?: readonly string[];
    /** The event types the machine handles, named beside unmatched ones. */
    eventTypes?: readonly string[];
    totalStates: number;
    totalEdges: number;
  }) {
    const unmatched = options.unmatchedEvents ?? [];
    const lines = [
      `${options.machineId}: ${options.unreachableStates.length} of ${options.totalStates} states unreachable, ` +
        `${options.uncoveredEdges.length} of ${options.totalEdges} edges uncovered.`,
    ];
    if (options.unreachableStates.length) {
      lines.push(`Unreachable states: ${options.unreachableStates.join(', ')}`);
    }
    if (options.uncoveredEdges.length) {
      lines.push('Uncovered edges:');
      for (const edge of options.uncoveredEdges) lines.push(`  - ${edge.label}  (${edge.id})`);
    }
    if (unmatched.length) {
      // Named first: a misspelt event type is the likeliest cause of the gaps listed above.
      lines.push(
        `Events that match no transition of the machine: ${unmatched.join(', ')}. Fix: correct the spelling or ` +
          `remove them from \`events\` (the machine handles: ${(options.eventTypes ?? []).join(', ')}).`,
      );
    }
    if (options.unreachableStates.length || options.uncoveredEdges.length) {
      lines.push(
        'Fix: add the events (with payloads that pass the guards) to the `events` option, add inputs ' +
          'that reach them, or remove the dead states and transitions from the machine.',
      );
    }
    super(lines.join('\n'));
    this.machineId = options.machineId;
    this.unreachableStates = options.unreachableStates;
    this.uncoveredEdges = options.uncoveredEdges;
    this.unmatchedEvents = unmatched;
  }
}

/**
 * Thrown by {@link pathTests} when the traversal would not end or would produce more paths than
 * allowed: the state space is too large (often a counter or id in the context) for the options.
 *
 * @example
 * ```ts
 * import { pathTests, TraversalLimitError } from 'taskmachine/testing';
 * try {
 *   pathTests(counterMachine, { events: [{ type: 'INC' }] });
 * } catch (error) {
 *   if (error instanceof TraversalLimitError) console.log(error.limit);
 * }
 * ```
 */
export class TraversalLimitError extends Error {
  override name = 'TraversalLimitError';
  /** Which limit was exceeded. */
  readonly limit: 'limit' | 'maxPaths';
  /** Its value. */
  readonly value: number;

  constructor(machineId: string, limit: 'limit' | 'maxPaths', value: number) {
    const what =
      limit === 'limit'
        ? `exploring its states took more than ${value} transitions (option \`limit\`)`
        : // The enumeration counts every prefix it extends, not the maximal paths it returns: a
          // chain of four states has one path but four prefixes, so "more than N paths" misled.
          `enumerating simple paths visited more than ${value} paths and prefixes of paths ` +
          '(option `maxPaths` counts each prefix, the empty path included, not only the paths returned)';
    const fix =
      limit === 'limit'
        ? 'Pass `serializeState` that keeps only the context fields guards depend on (so equal ' +
          'states collapse), or narrow `events`; raise `limit` only if the space really is that big.'
        : 'Set `maxPathLength`, pass a coarser `serializeState`, or raise `maxPaths`.';
    super(`pathTests(${machineId}): ${what}. ${fix}`);
    this.limit = limit;
    this.value = value;
  }
}
