import type { AnyStateMachine } from 'xstate';
import { buildChart, type ChartOptions, type ChartState } from './chart.ts';
import { hexColor } from './colors.ts';

/**
 * A Graphviz DOT digraph of a machine, read from its definition: filled, rounded nodes in each
 * state's colour (as a hex value: Graphviz's `green` is CSS `lime`, see `cssColors`), a start point, every edge labelled with its event and guard; compound states
 * become clusters. By default the manual edges (`SET_STATE`, `CLEAR`) are summarized in a note
 * node instead of drawn; `allEdges: true` draws them. Deterministic output.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { toDot } from 'taskmachine/viz';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * writeFileSync('lifecycle.dot', toDot(taskInstanceMachine)); // or an SVG with no Graphviz installed: dotToSvg
 * ```
 */
export function toDot(machine: AnyStateMachine, options: ChartOptions = {}): string {
  const chart = buildChart(machine, options);
  const all = flatten(chart.root);
  const byPath = new Map(all.map((state) => [state.path, state]));
  const lines = [
    `digraph ${quote(chart.id)} {`,
    `  rankdir=${chart.direction};`,
    '  compound=true;',
    // (Room between states: at Graphviz's defaults the labels of neighbouring edges overlapped,
    // e.g. GATE_FAIL [canRetryGateFailure] over FAIL [canRetryFailedAttempt] in the lifecycle.)
    '  nodesep=0.5;',
    '  ranksep=1.0;',
    // (Cluster labels too: without it Graphviz draws them in its default Times.)
    '  fontname="Helvetica";',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
    '  "__start" [shape=point, width=0.15, label=""];',
  ];
  const declare = (state: ChartState, indent: string) => {
    if (state.children.length) {
      lines.push(`${indent}subgraph ${quote(`cluster_${state.id}`)} {`);
      lines.push(`${indent}  label=${quote(state.key)};`);
      lines.push(`${indent}  style="rounded${state.fill ? ',filled' : ''}";`);
      if (state.fill) lines.push(`${indent}  fillcolor=${quote(hexColor(state.fill))};`);
      for (const child of state.children) declare(child, `${indent}  `);
      lines.push(`${indent}}`);
      return;
    }
    const attributes = [`label=${quote(state.key)}`];
    if (state.fill) attributes.push(`fillcolor=${quote(hexColor(state.fill))}`);
    if (state.text) attributes.push(`fontcolor=${quote(hexColor(state.text))}`);
    lines.push(`${indent}${quote(state.id)} [${attributes.join(', ')}];`);
  };
  for (const state of chart.root.children) declare(state, '  ');

  /** An edge to a compound state ends at its initial leaf, clipped at the cluster. */
  const endpoint = (path: string): { node: string; cluster?: string } => {
    let state = byPath.get(path);
    let cluster: string | undefined;
    while (state && state.children.length) {
      cluster ??= `cluster_${state.id}`;
      state = state.initial ? byPath.get(state.initial) : state.children[0];
    }
    return { node: state ? state.id : path, ...(cluster ? { cluster } : {}) };
  };
  if (chart.root.initial) lines.push(`  "__start" -> ${quote(endpoint(chart.root.initial).node)};`);
  for (const { edge, label, from: source } of chart.edges) {
    const from = endpoint(source);
    for (const targetPath of edge.targets.length ? edge.targets : [source]) {
      const to = endpoint(targetPath);
      const attributes = [`label=${quote(label)}`];
      if (from.cluster) attributes.push(`ltail=${quote(from.cluster)}`);
      if (to.cluster && to.cluster !== from.cluster) attributes.push(`lhead=${quote(to.cluster)}`);
      lines.push(`  ${quote(from.node)} -> ${quote(to.node)} [${attributes.join(', ')}];`);
    }
  }
  if (chart.legend.length) {
    const text = ['Summarized here, not drawn (allEdges / --all-edges draws them):', ...chart.legend]
      .map((line) => `${escape(line)}\\l`)
      .join('');
    // (A margin: viewers that draw Helvetica with a wider font would push the text past the border.)
    lines.push(`  "__legend" [shape=note, style=filled, fillcolor="#ffffff", fontsize=10, margin="0.25,0.1", label="${text}"];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function flatten(state: ChartState): ChartState[] {
  return state.children.flatMap((child) => [child, ...flatten(child)]);
}

function quote(text: string): string {
  return `"${escape(text)}"`;
}

function escape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
