import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { isTaskInstanceState, stateColors, stateTextColor } from '../../machines/index.ts';
import { machineEdges, statePath, type EdgeDefinition } from '../testing/machineGraph.ts';

/**
 * Options shared by {@link toMermaid} and {@link toDot}.
 *
 * @example
 * ```ts
 * import { toMermaid } from 'taskmachine/viz';
 * toMermaid(taskInstanceMachine, { allEdges: true, direction: 'TB' });
 * ```
 */
export interface ChartOptions {
  /**
   * Draw every edge. By default the edges of `manualEvents` (a person's set-state and clear, which
   * go from nearly every state) and the transitions of the machine's own `on` (taken from any
   * state) are left out and summarized in a note instead; with `allEdges` the machine's own are
   * drawn from each top-level state.
   * @default false
   */
  readonly allEdges?: boolean;
  /**
   * Event types that are summarized in the note instead of drawn, unless `allEdges`.
   * @default ['SET_STATE', 'CLEAR']
   */
  readonly manualEvents?: readonly string[];
  /**
   * Show guards on edge labels (`FAIL [canRetryFailedAttempt]`, `FAIL [else]`).
   * @default true
   */
  readonly showGuards?: boolean;
  /**
   * Show action names on edge labels (`SCHEDULE / incrementAttempt`).
   * @default false
   */
  readonly showActions?: boolean;
  /**
   * Fill colour per state (key: state dot path, e.g. `'running'`).
   * @default Airflow's colours (`stateColors`) for states named like task-instance states; none otherwise
   */
  readonly colors?: Readonly<Record<string, string>>;
  /**
   * Text colour per state (key: state dot path).
   * @default `stateTextColor` for task-instance state names, black otherwise
   */
  readonly textColors?: Readonly<Record<string, string>>;
  /**
   * Layout direction: left to right or top to bottom.
   * @default 'LR'
   */
  readonly direction?: 'LR' | 'TB';
}

/** @internal A state of the chart, with its children for compound states (see {@link buildChart}). */
export interface ChartState {
  readonly path: string;
  readonly key: string;
  readonly id: string;
  readonly fill: string | undefined;
  readonly text: string | undefined;
  readonly initial: string | undefined;
  readonly children: readonly ChartState[];
}

/**
 * @internal An edge as drawn: `from` is the state it leaves, which for a machine-level `on`
 * (`edge.source === ''`) is each top-level state in turn — a targetless one loops on `from`.
 */
export interface ChartEdge {
  readonly edge: EdgeDefinition;
  readonly label: string;
  readonly from: string;
}

/** @internal What both renderers draw: states, drawn edges, legend lines. */
export interface Chart {
  readonly id: string;
  readonly root: ChartState;
  readonly edges: readonly ChartEdge[];
  readonly legend: readonly string[];
  readonly direction: 'LR' | 'TB';
}

const defaultManualEvents = ['SET_STATE', 'CLEAR'];

/**
 * @internal Reads the chart from the machine definition.
 *
 * @example
 * ```ts
 * buildChart(flowRunMachine).legend; // ['SET_STATE: any state → success | failed, never to the state it is in (6 edges)']
 * ```
 */
export function buildChart(machine: AnyStateMachine, options: ChartOptions = {}): Chart {
  const manual = new Set(options.allEdges ? [] : (options.manualEvents ?? defaultManualEvents));
  const showGuards = options.showGuards ?? true;
  const edges = machineEdges(machine);
  // chartId maps several names to one id ('in progress', 'in-progress', 'in_progress'), and two
  // states with one id are one node to Mermaid and Graphviz: number the later ones (definition
  // order), and keep clear of the nodes toDot adds itself.
  const usedIds = new Set(['__start', '__legend']);
  const uniqueId = (path: string) => {
    const base = chartId(path);
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}_${n}`;
    usedIds.add(id);
    return id;
  };
  const toState = (node: AnyStateNode): ChartState => {
    const path = statePath(node);
    const children = (Object.values(node.states) as AnyStateNode[]).filter((child) => child.type !== 'history');
    const initialTarget = node.initial?.target?.[0] as AnyStateNode | undefined;
    return {
      path,
      key: node.key,
      id: node === machine.root ? chartId(path) : uniqueId(path),
      fill: options.colors?.[path] ?? (isTaskInstanceState(node.key) ? stateColors[node.key] : undefined),
      text: options.textColors?.[path] ?? (isTaskInstanceState(node.key) ? stateTextColor(node.key) : undefined),
      initial: initialTarget ? statePath(initialTarget) : undefined,
      children: children.map(toState),
    };
  };
  const root = toState(machine.root);
  // A machine-level `on` is taken from any state: with allEdges it is drawn from each top-level
  // state (a compound one stands for the states inside it); otherwise the note summarizes it.
  const drawn = edges
    .filter((edge) => (edge.source !== '' || options.allEdges) && !manual.has(edge.eventType))
    .flatMap((edge) => {
      const label = edgeText(edge, showGuards, options.showActions ?? false);
      const sources = edge.source === '' ? root.children.map((state) => state.path) : [edge.source];
      return sources.map((from) => ({ edge, label, from }));
    });
  const summarized = edges.filter((edge) => (edge.source === '' && !options.allEdges) || manual.has(edge.eventType));
  return {
    id: machine.id,
    root,
    edges: drawn,
    legend: summarizeEdges(allStatePaths(machine.root), summarized),
    direction: options.direction ?? 'LR',
  };
}

/**
 * @internal Identifier safe in Mermaid and DOT: the dot path with `.` as `__`, other characters
 * than letters, digits and `_` as `_`. Not one-to-one: {@link buildChart} numbers the states whose
 * ids would repeat (`in_progress`, `in_progress_2`, …).
 *
 * @example
 * ```ts
 * chartId('work.fetch'); // 'work__fetch'
 * ```
 */
export function chartId(path: string): string {
  return path.replace(/\./g, '__').replace(/[^A-Za-z0-9_]/g, '_');
}

function edgeText(edge: EdgeDefinition, showGuards: boolean, showActions: boolean): string {
  let text = edge.eventType;
  if (showGuards && edge.guard !== undefined) text += ` [${edge.guard}]`;
  else if (showGuards && edge.fallback) text += ' [else]';
  if (showActions && edge.actions.length) text += ` / ${edge.actions.join(', ')}`;
  return text;
}

function allStatePaths(root: AnyStateNode): string[] {
  const out: string[] = [];
  const walk = (node: AnyStateNode) => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      if (child.type === 'history') continue;
      out.push(statePath(child));
      walk(child);
    }
  };
  walk(root);
  return out;
}

/**
 * @internal One line per event type: where its edges go from, grouped by target.
 *
 * @example
 * ```ts
 * summarizeEdges(machineStates(taskInstanceMachine), setStateEdges);
 * // ['SET_STATE: any state → success | failed | skipped, never to the state it is in (39 edges)']
 * ```
 */
export function summarizeEdges(states: readonly string[], edges: readonly EdgeDefinition[]): string[] {
  const byType = new Map<string, EdgeDefinition[]>();
  for (const edge of edges) byType.set(edge.eventType, [...(byType.get(edge.eventType) ?? []), edge]);
  const lines: string[] = [];
  for (const [eventType, list] of byType) {
    const byTarget = new Map<string, Set<string>>();
    for (const edge of list) {
      const target = edge.targets.length ? edge.targets.join(' + ') : '(same state)';
      const sources = byTarget.get(target) ?? new Set<string>();
      // An edge of a compound state is taken from each state inside it as well.
      const from = edge.source === '' ? states : [edge.source, ...states.filter((state) => state.startsWith(`${edge.source}.`))];
      for (const source of from) sources.add(source);
      byTarget.set(target, sources);
    }
    const targets = [...byTarget.keys()];
    const count = `(${list.length} edge${list.length === 1 ? '' : 's'})`;
    const anyButItself = targets.every((target) => {
      const sources = byTarget.get(target)!;
      return states.every((state) => sources.has(state) === (state !== target));
    });
    if (anyButItself) {
      lines.push(`${eventType}: any state → ${targets.join(' | ')}, never to the state it is in ${count}`);
      continue;
    }
    const parts = targets.map((target) => `${describeSources(states, byTarget.get(target)!)} → ${target}`);
    lines.push(`${eventType}: ${parts.join(' · ')} ${count}`);
  }
  return lines;
}

function describeSources(states: readonly string[], sources: ReadonlySet<string>): string {
  if (sources.size === states.length) return 'any state';
  if (sources.size > states.length / 2) {
    return `any state but ${states.filter((state) => !sources.has(state)).join(', ')}`;
  }
  return states.filter((state) => sources.has(state)).join(', ');
}
