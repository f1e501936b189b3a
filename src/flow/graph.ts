import type { Flow } from './types.ts';

const NO_INDICES: readonly number[] = Object.freeze([]);

/**
 * The task graph of a flow as compressed adjacency lists (CSR): for task `i`, its upstream indices
 * are `up[upStart[i] .. upStart[i + 1])` and its downstream ones `down[downStart[i] ..
 * downStart[i + 1])`. Four typed arrays for the whole flow, outside the JavaScript heap, instead of
 * two small arrays per task (128 bytes per task, every one of them copied by the garbage collector
 * while a 100k-task flow is built). The runtime walks these directly; `TaskDefinition.upstream` and
 * `.downstream` are read from them.
 */
export class FlowGraph {
  readonly upStart: Int32Array;
  readonly up: Int32Array;
  readonly downStart: Int32Array;
  readonly down: Int32Array;

  /**
   * Builds the graph from the upstream lists in CSR form: task `i`'s upstream indices (in order, no
   * duplicates) are `up[upStart[i] .. upStart[i + 1])`. Downstream lists follow task order.
   */
  constructor(upStart: Int32Array, up: Int32Array) {
    const tasks = upStart.length - 1;
    this.upStart = upStart;
    this.up = up;
    this.downStart = new Int32Array(tasks + 1);
    this.down = new Int32Array(up.length);
    for (const upstream of up) this.downStart[upstream + 1]!++;
    for (let i = 0; i < tasks; i++) this.downStart[i + 1]! += this.downStart[i]!;
    const filled = this.downStart.slice(0, tasks);
    for (let i = 0; i < tasks; i++) {
      for (let k = upStart[i]!; k < upStart[i + 1]!; k++) this.down[filled[up[k]!]!++] = i;
    }
  }

  /** Builds the graph from one upstream list per task. */
  static fromLists(upstreams: readonly (readonly number[])[]): FlowGraph {
    const upStart = new Int32Array(upstreams.length + 1);
    let edges = 0;
    upstreams.forEach((list, i) => {
      upStart[i] = edges;
      edges += list.length;
    });
    upStart[upstreams.length] = edges;
    return new FlowGraph(upStart, Int32Array.from(upstreams.flat()));
  }

  upstreamCount(index: number): number {
    return index < 0 ? 0 : this.upStart[index + 1]! - this.upStart[index]!;
  }

  downstreamCount(index: number): number {
    return index < 0 ? 0 : this.downStart[index + 1]! - this.downStart[index]!;
  }

  /** A new frozen array of the task's upstream indices. */
  upstreamOf(index: number): readonly number[] {
    return listOf(this.up, this.upStart, index);
  }

  /** A new frozen array of the task's downstream indices. */
  downstreamOf(index: number): readonly number[] {
    return listOf(this.down, this.downStart, index);
  }
}

function listOf(data: Int32Array, start: Int32Array, index: number): readonly number[] {
  if (index < 0) return NO_INDICES;
  const from = start[index]!;
  const to = start[index + 1]!;
  if (from === to) return NO_INDICES;
  const list = new Array<number>(to - from);
  for (let k = from; k < to; k++) list[k - from] = data[k]!;
  return Object.freeze(list);
}

const graphs = new WeakMap<Flow, FlowGraph>();

/** Remembers the graph flow() compiled for a flow. */
export function setGraphOf(flow: Flow, graph: FlowGraph): void {
  graphs.set(flow, graph);
}

/**
 * The graph of a flow: the one flow() compiled, or (for a flow object made some other way) one
 * built from its tasks' upstream lists.
 */
export function graphOf(flow: Flow): FlowGraph {
  let graph = graphs.get(flow);
  if (graph === undefined) {
    graph = FlowGraph.fromLists(flow.tasks.map((task) => task.upstream));
    graphs.set(flow, graph);
  }
  return graph;
}
