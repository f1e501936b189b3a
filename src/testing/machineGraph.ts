import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, StateValue } from 'xstate';
import { assertMachine } from './validate.ts';

/**
 * One edge of a machine's definition: a `(source state, event type, branch)` triple. An event with
 * a list of guarded transitions has one edge per branch, so `running →FAIL[canRetry]→ up_for_retry`
 * and `running →FAIL[else]→ failed` are two edges.
 *
 * Eventless (`always`) transitions are not edges: they are taken inside the step of the event that
 * led to them. Delayed (`after`) transitions are edges whose event type is XState's
 * `xstate.after.<delay>.<state id>`.
 *
 * @example
 * ```ts
 * import { machineEdges } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * const fail = machineEdges(taskInstanceMachine).filter((e) => e.eventType === 'FAIL');
 * fail.map((e) => e.label);
 * // ['running →FAIL[canRetryFailedAttempt]→ up_for_retry', 'running →FAIL[else]→ failed']
 * ```
 */
export interface EdgeDefinition {
  /** Stable id, `<state node id>:<index of the transition in that node>` (as `toDirectedGraph`). */
  readonly id: string;
  /** Source state as a dot path (`'running'`, `'parent.child'`); `''` for machine-level `on`. */
  readonly source: string;
  /** The event type that triggers the edge. */
  readonly eventType: string;
  /** Index of this branch among the source's transitions for `eventType` (0 = tried first). */
  readonly branch: number;
  /** The guard rendered as text (`'canRetryFailedAttempt'`, `'isManualTarget(state=failed)'`), if any. */
  readonly guard: string | undefined;
  /** True for an unguarded branch that follows guarded ones (drawn and named `[else]`). */
  readonly fallback: boolean;
  /** Target states as dot paths; empty for a targetless transition (the state does not change). */
  readonly targets: readonly string[];
  /** Names of the transition's actions (`'incrementAttempt'`), inline ones as `'inline action'`. */
  readonly actions: readonly string[];
  /** Readable name, e.g. `'queued →GATE_FAIL[canRetryGateFailure]→ up_for_retry'`. */
  readonly label: string;
  /** The XState transition definition this edge was read from. */
  readonly transition: AnyTransitionDefinition;
}

/**
 * The states of a machine (every state node except the root and history pseudo-states), as dot
 * paths in definition order.
 *
 * @example
 * ```ts
 * import { machineStates } from 'taskmachine/testing';
 * import { flowRunMachine } from 'taskmachine/machines';
 * machineStates(flowRunMachine);
 * // ['queued', 'running', 'running.active', 'running.paused', 'running.cancelling', 'running.stopping', 'running.detached', 'success', 'failed']
 * ```
 */
export function machineStates(machine: AnyStateMachine): string[] {
  assertMachine('machineStates', machine);
  return stateNodesInOrder(machine.root)
    .filter((node) => node !== machine.root && node.type !== 'history')
    .map(statePath);
}

/**
 * Every edge of a machine's definition, in definition order (state by state, then in the order of
 * each state's `on`). This is the universe that {@link pathTests} measures coverage against.
 *
 * @example
 * ```ts
 * import { machineEdges } from 'taskmachine/testing';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * machineEdges(taskInstanceMachine).length; // 76
 * ```
 */
export function machineEdges(machine: AnyStateMachine): EdgeDefinition[] {
  assertMachine('machineEdges', machine);
  return definitionGraph(machine).edges;
}

/** Edges and the lookup from XState transition objects to them; cached per machine. */
interface DefinitionGraph {
  readonly edges: EdgeDefinition[];
  readonly byTransition: ReadonlyMap<AnyTransitionDefinition, EdgeDefinition>;
}

const graphs = new WeakMap<AnyStateMachine, DefinitionGraph>();

/**
 * @internal Edges of `machine` plus the map from XState transition objects to them (cached).
 *
 * @example
 * ```ts
 * const { byTransition } = definitionGraph(machine);
 * machine.getTransitionData(snapshot, event).map((t) => byTransition.get(t)?.label);
 * ```
 */
export function definitionGraph(machine: AnyStateMachine): DefinitionGraph {
  const cached = graphs.get(machine);
  if (cached) return cached;
  const edges: EdgeDefinition[] = [];
  const byTransition = new Map<AnyTransitionDefinition, EdgeDefinition>();
  for (const node of stateNodesInOrder(machine.root)) {
    const transitions = [...node.transitions.values()].flat() as AnyTransitionDefinition[];
    const branchOfType = new Map<string, number>();
    const guardedBefore = new Set<string>();
    transitions.forEach((transition, index) => {
      const eventType = String(transition.eventType);
      const branch = branchOfType.get(eventType) ?? 0;
      branchOfType.set(eventType, branch + 1);
      const guard = transition.guard === undefined ? undefined : formatGuard(transition.guard);
      const fallback = guard === undefined && guardedBefore.has(eventType);
      if (guard !== undefined) guardedBefore.add(eventType);
      const source = statePath(node);
      const targets = (transition.target ?? []).map((target: AnyStateNode) => statePath(target));
      const edge: EdgeDefinition = {
        id: `${node.id}:${index}`,
        source,
        eventType,
        branch,
        guard,
        fallback,
        targets,
        actions: transition.actions.map(formatAction),
        label: formatEdgeLabel({ source, eventType, guard, fallback, targets }),
        transition,
      };
      edges.push(edge);
      byTransition.set(transition, edge);
    });
  }
  const graph = { edges, byTransition };
  graphs.set(machine, graph);
  return graph;
}

/**
 * Renders an edge as `source →EVENT[guard]→ target`: `[else]` marks the unguarded branch after
 * guarded ones, a targetless edge points back at its source, several targets are joined by `+`.
 *
 * @example
 * ```ts
 * import { formatEdgeLabel } from 'taskmachine/testing';
 * formatEdgeLabel({ source: 'running', eventType: 'FAIL', guard: undefined, fallback: true, targets: ['failed'] });
 * // 'running →FAIL[else]→ failed'
 * ```
 */
export function formatEdgeLabel(edge: {
  readonly source: string;
  readonly eventType: string;
  readonly guard: string | undefined;
  readonly fallback: boolean;
  readonly targets: readonly string[];
}): string {
  const condition = edge.guard !== undefined ? `[${edge.guard}]` : edge.fallback ? '[else]' : '';
  const source = edge.source === '' ? '(any state)' : edge.source;
  const target = edge.targets.length ? edge.targets.join(' + ') : source;
  return `${source} →${edge.eventType}${condition}→ ${target}`;
}

/**
 * Renders a state value as text: `'running'`, `{ a: 'b' }` as `'a.b'`, parallel regions as
 * `'p.(x.one, y.two)'`.
 *
 * @example
 * ```ts
 * import { formatStateValue } from 'taskmachine/testing';
 * formatStateValue({ payment: 'pending' }); // 'payment.pending'
 * ```
 */
export function formatStateValue(value: StateValue): string {
  if (typeof value === 'string') return value;
  const parts = Object.entries(value).map(([key, child]) =>
    child === undefined ? key : `${key}.${formatStateValue(child)}`,
  );
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

/**
 * Dot path of a state node relative to the machine (`''` for the root).
 *
 * @example
 * ```ts
 * statePath(taskInstanceMachine.root.states.running); // 'running'
 * ```
 */
export function statePath(node: AnyStateNode): string {
  return node.path.join('.');
}

/** The root and all descendants, depth first, children in definition order. */
function stateNodesInOrder(root: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [root];
  for (const child of Object.values(root.states) as AnyStateNode[]) out.push(...stateNodesInOrder(child));
  return out;
}

function formatGuard(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as { name?: string; guards?: unknown[]; stateValue?: unknown };
    if (Array.isArray(fn.guards)) return `${fn.name || 'combined'}(${fn.guards.map(formatGuard).join(', ')})`;
    if ('stateValue' in fn) return `stateIn(${formatParams(fn.stateValue)})`;
    return fn.name ? fn.name : 'inline guard';
  }
  if (typeof guard === 'object' && guard !== null && 'type' in guard) {
    const { type, params } = guard as { type: string; params?: unknown };
    return params === undefined ? type : `${type}(${formatParams(params)})`;
  }
  return 'guard';
}

function formatAction(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'object' && action !== null && 'type' in action) {
    return String((action as { type: unknown }).type);
  }
  if (typeof action === 'function') {
    const fn = action as { type?: unknown; name?: string };
    // Built-in action creators (assign, raise, …) carry their kind in `type`.
    if (typeof fn.type === 'string') return fn.type;
    return fn.name ? fn.name : 'inline action';
  }
  return 'action';
}

/**
 * Renders guard or event parameters: an object as `key=value` pairs, strings bare, anything else
 * as JSON, a function (dynamic params) as `…`.
 *
 * @example
 * ```ts
 * formatParams({ state: 'failed', n: 2 }); // 'state=failed, n=2'
 * ```
 */
export function formatParams(params: unknown): string {
  if (typeof params === 'function') return '…';
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    return Object.entries(params)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(', ');
  }
  return typeof params === 'string' ? params : JSON.stringify(params);
}
