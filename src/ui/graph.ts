import type { TaskInstanceState } from '../../machines/index.ts';
import type { FlowShape } from '../flow/flowShape.ts';
import type { TaskInstanceCounts } from '../stores/index.ts';
import { dotToSvg, stateHex, stateTextHex } from '../viz/index.ts';
import { PRIORITY } from '../viz/runGraph.ts';

/**
 * One task of a run's graph: how many instances it has in each state.
 *
 * @example
 * ```ts
 * const score: GraphTask = { taskId: 'score', total: 500, byState: { success: 495, failed: 5 } };
 * ```
 */
export interface GraphTask {
  readonly taskId: string;
  readonly total: number;
  readonly byState: Readonly<Partial<Record<TaskInstanceState, number>>>;
}

/**
 * The state a task's box is drawn in: the most telling state of its instances.
 *
 * @example
 * ```ts
 * taskState({ taskId: 'score', total: 3, byState: { success: 2, failed: 1 } }); // 'failed'
 * ```
 */
export function taskState(task: GraphTask): TaskInstanceState {
  return PRIORITY.find((state) => (task.byState[state] ?? 0) > 0) ?? 'none';
}

/**
 * `score ×500: 495 success, 5 failed` (a single instance: `extract: success`).
 *
 * @example
 * ```ts
 * taskSummary({ taskId: 'score', total: 500, byState: { success: 495, failed: 5 } }); // 'score ×500: 5 failed, 495 success'
 * ```
 */
export function taskSummary(task: GraphTask): string {
  const parts = PRIORITY.filter((state) => (task.byState[state] ?? 0) > 0).map((state) => `${task.byState[state]} ${state}`);
  if (task.total === 1) return `${task.taskId}: ${taskState(task)}`;
  return `${task.taskId} ×${task.total}: ${parts.join(', ') || 'none'}`;
}

/**
 * The tasks of a run in their order, with counts: the stored shape's tasks (subtasks only when
 * they were called) or, for a run stored without one, its task list (`taskIds`); then any task the
 * store has instances of that neither names.
 *
 * @example
 * ```ts
 * graphTasks(run.taskIds, await store.countTaskInstances(run.runId), await store.getRunShape(run.runId));
 * ```
 */
export function graphTasks(taskIds: readonly string[] | undefined, counts: TaskInstanceCounts, shape?: FlowShape): GraphTask[] {
  const byTask = new Map(counts.byTask.map((task) => [task.taskId, task]));
  const listed = shape !== undefined ? shape.tasks.filter((task) => task.kind !== 'subtask' || byTask.has(task.id)).map((task) => task.id) : (taskIds ?? []);
  const ids = [...new Set([...listed, ...byTask.keys()])];
  return ids.map((taskId) => byTask.get(taskId) ?? { taskId, total: 0, byState: {} });
}

/**
 * The dependency edges `[upstream, task]` of a stored shape.
 *
 * @example
 * ```ts
 * shapeEdges(await store.getRunShape('nightly')); // [['extract', 'clean'], ['clean', 'score'], …]
 * ```
 */
export function shapeEdges(shape: FlowShape | undefined): Array<readonly [string, string]> {
  return (shape?.tasks ?? []).flatMap((task) => task.upstream.map((upstream) => [upstream, task.id] as const));
}

/**
 * A box's margin (inches) for its label. Graphviz sizes the box with Helvetica's widths, but the
 * browser draws the label in the fonts it has: the page asks for a metric-compatible one (Liberation
 * Sans, Arimo), and without one Linux draws DejaVu Sans, about 12% wider. So besides the fixed
 * margin each side gets 7% of the label's estimated width: a long label stays inside its box.
 */
function labelMargin(lines: readonly string[]): string {
  // Helvetica at 11 pt: about 6.1 pt per character on average.
  const widthInches = (Math.max(...lines.map((line) => line.length)) * 6.1) / 72;
  return `${(0.2 + 0.07 * widthInches).toFixed(3)},0.06`;
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * The DOT of a run's task graph: one box per task in its state's colour, a mapped task summarized
 * in its box, each box a link to the task's instances. `edges` are the dependencies when the store
 * has the run's shape; without them the boxes are drawn in the run's task order.
 *
 * @example
 * ```ts
 * runGraphDot(tasks, (taskId) => `/runs/nightly?task=${taskId}`, [['extract', 'load']]);
 * ```
 */
export function runGraphDot(tasks: readonly GraphTask[], link: (taskId: string) => string, edges: ReadonlyArray<readonly [string, string]> = []): string {
  const index = new Map(tasks.map((task, i) => [task.taskId, i]));
  const lines = [
    'digraph run {',
    '  rankdir=LR; bgcolor="transparent"; nodesep=0.25; ranksep=0.45;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, margin="0.2,0.06", penwidth=1.2, color="#4b5563"];',
    '  edge [color="#6b7280", arrowsize=0.7];',
  ];
  for (const [i, task] of tasks.entries()) {
    const state = taskState(task);
    const lines2 = task.total <= 1 ? [task.taskId, state] : [`${task.taskId} ×${task.total}`, taskSummary(task).split(': ')[1] ?? ''];
    lines.push(
      `  t${i} [id=${quote(`task-${i}`)}, class=${quote(`tm-task state-${state}`)}, label=${quote(lines2.join('\n'))}, margin=${quote(labelMargin(lines2))}, tooltip=${quote(taskSummary(task))}, ` +
        `fillcolor=${quote(stateHex(state))}, fontcolor=${quote(stateTextHex(state))}, URL=${quote(link(task.taskId))}, target="_top"];`,
    );
  }
  if (edges.length === 0) {
    // No stored dependencies: keep the boxes in the run's order, in rows of six.
    for (let i = 1; i < tasks.length; i++) if (i % 6 !== 0) lines.push(`  t${i - 1} -> t${i} [style=invis];`);
  }
  for (const [from, to] of edges) {
    const a = index.get(from);
    const b = index.get(to);
    if (a !== undefined && b !== undefined) lines.push(`  t${a} -> t${b};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * The run graph as SVG (Graphviz compiled to WebAssembly, offline).
 *
 * @example
 * ```ts
 * const svg = await runGraphSvg(tasks, (taskId) => `?task=${taskId}`, shapeEdges(shape));
 * ```
 */
export function runGraphSvg(tasks: readonly GraphTask[], link: (taskId: string) => string, edges?: ReadonlyArray<readonly [string, string]>): Promise<string> {
  // (Graphviz writes `-` in ids and classes as `&#45;`; same meaning, plainer to select.)
  return dotToSvg(runGraphDot(tasks, link, edges))
    .then(stripXmlProlog)
    .then((svg) => svg.replace(/<g id="([^"]*)" class="([^"]*)"/g, (_all, id: string, classes: string) => `<g id="${id.replaceAll('&#45;', '-')}" class="${classes.replaceAll('&#45;', '-')}"`));
}

/**
 * An SVG document as an element to put in a page (no XML prolog or doctype).
 *
 * @example
 * ```ts
 * stripXmlProlog('<?xml version="1.0"?>\n<svg/>'); // '<svg/>'
 * ```
 */
export function stripXmlProlog(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/, '').replace(/<!--[\s\S]*?-->\s*/g, '');
}
