import { stateColors, stateTextColor, type TaskInstanceState } from '../../machines/index.ts';
import { flowShape, type FlowShape } from '../flow/flowShape.ts';
import type { Flow } from '../flow/types.ts';
import type { FlowRunRecord, TaskInstanceRecord } from '../records.ts';
import { stateHex, stateTextHex } from './colors.ts';

/** One box of a run diagram: a task with the states of its instances. */
interface RunNode {
  readonly id: string;
  readonly nodeId: string;
  readonly label: string;
  readonly state: TaskInstanceState;
}

// When a task's instances differ (a map), the box takes the colour of the most telling state.
const PRIORITY: readonly TaskInstanceState[] = [
  'failed',
  'upstream_failed',
  'running',
  'restarting',
  'up_for_retry',
  'queued',
  'scheduled',
  'deferred',
  'up_for_reschedule',
  'checkpointed',
  'none',
  'skipped',
  'removed',
  'success',
];

/** A run's instances, as `runToMermaid`/`runToDot` read them (a `FlowRunRecord`'s, or stored ones). */
type RunTasks = Pick<FlowRunRecord, 'tasks'>;

/** The shape of what to draw: given, or made from a flow definition. */
function shapeOf(definition: Flow | FlowShape): FlowShape {
  return 'version' in definition && !('task' in definition) ? definition : flowShape(definition as Flow);
}

/** Every edge as node ids, `t<index of upstream>` → `t<index>`. */
function edgesOf(shape: FlowShape): Array<readonly [string, string]> {
  const index = new Map(shape.tasks.map((task, i) => [task.id, i]));
  return shape.tasks.flatMap((task, i) => task.upstream.filter((id) => index.has(id)).map((id) => [`t${index.get(id)}`, `t${i}`] as const));
}

function nodesOf(shape: FlowShape, run: RunTasks): RunNode[] {
  const byTask = new Map<string, TaskInstanceRecord[]>();
  for (const instance of Object.values(run.tasks)) {
    if (instance.parentKey !== undefined) continue;
    (byTask.get(instance.taskId) ?? byTask.set(instance.taskId, []).get(instance.taskId)!).push(instance);
  }
  return shape.tasks
    .map((task, index) => ({ task, index }))
    .filter(({ task }) => task.kind !== 'subtask')
    .map(({ task, index }) => {
      const instances = byTask.get(task.id) ?? [];
      const counts = new Map<TaskInstanceState, number>();
      for (const instance of instances) counts.set(instance.state, (counts.get(instance.state) ?? 0) + 1);
      const state = PRIORITY.find((candidate) => counts.has(candidate)) ?? 'none';
      let label: string;
      if (instances.length === 1 && instances[0]!.mapIndex === undefined) {
        const only = instances[0]!;
        label = `${task.id}\\n${only.state}${only.attempts > 1 ? ` (attempt ${only.attempts}/${only.maxAttempts})` : ''}`;
      } else {
        const summary = PRIORITY.filter((candidate) => counts.has(candidate)).map((candidate) => `${candidate} ${counts.get(candidate)}`);
        label = `${task.id} ×${instances.length}\\n${summary.join(', ') || 'none'}`;
      }
      return { id: task.id, nodeId: `t${index}`, label, state };
    });
}

/**
 * A Mermaid flowchart of a run: one box per task (a mapped task's instances summarized in one box),
 * the dependency edges, and each box in the Airflow colour of its state. The graph comes from the
 * flow definition, or from a run's stored shape (`store.getRunShape(runId)`), so a stored run is
 * drawn without its flow's code.
 *
 * @example
 * ```ts
 * import { runToMermaid } from 'taskmachine/viz';
 * const run = await runFlow(etl);
 * console.log(runToMermaid(etl, run));
 * // or, for a stored run: runToMermaid((await store.getRunShape(runId))!, { tasks })
 * ```
 */
export function runToMermaid(definition: Flow | FlowShape, run: RunTasks): string {
  const shape = shapeOf(definition);
  const nodes = nodesOf(shape, run);
  const lines = ['flowchart LR'];
  for (const node of nodes) lines.push(`  ${node.nodeId}["${node.label.replaceAll('"', "'").replaceAll('\\n', '<br/>')}"]:::${node.state}`);
  for (const [from, to] of edgesOf(shape)) lines.push(`  ${from} --> ${to}`);
  for (const state of new Set(nodes.map((node) => node.state))) {
    lines.push(`  classDef ${state} fill:${stateColors[state]},color:${stateTextColor(state)},stroke:#555`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A Graphviz DOT digraph of a run (see {@link runToMermaid}: from a flow or a stored shape), its colours as hex values; render it
 * with `dotToSvg` (no Graphviz needed) or `dot -Tsvg`.
 *
 * @example
 * ```ts
 * import { runToDot } from 'taskmachine/viz';
 * writeFileSync('run.dot', runToDot(etl, run));
 * ```
 */
export function runToDot(definition: Flow | FlowShape, run: RunTasks): string {
  const shape = shapeOf(definition);
  const nodes = nodesOf(shape, run);
  // Room beside the text (margin): Graphviz measures it in Helvetica; a viewer without that font draws it wider.
  const lines = [`digraph "${shape.flowId.replaceAll('"', '')}" {`, '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="Helvetica", margin="0.25,0.08"];'];
  for (const node of nodes) {
    lines.push(
      `  ${node.nodeId} [label="${node.label.replaceAll('"', "'")}", fillcolor="${stateHex(node.state)}", fontcolor="${stateTextHex(node.state)}"];`,
    );
  }
  for (const [from, to] of edgesOf(shape)) lines.push(`  ${from} -> ${to};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
