import type { AnyStateMachine } from 'xstate';
import { buildChart, type ChartOptions, type ChartState } from './chart.ts';

/**
 * A Mermaid `stateDiagram-v2` of a machine, read from its definition: every state (filled with its
 * colour through a `classDef`), the initial state, every edge labelled with its event and guard.
 * By default the manual edges (`SET_STATE`, `CLEAR`) are summarized in a note instead of drawn;
 * `allEdges: true` draws them. Output is deterministic (definition order), so it can be committed
 * and checked for drift.
 *
 * @example
 * ```ts
 * import { toMermaid } from 'taskmachine/viz';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * console.log(toMermaid(taskInstanceMachine));
 * // stateDiagram-v2
 * //   direction LR
 * //   [*] --> none
 * //   none --> scheduled : SCHEDULE
 * //   …
 * ```
 */
export function toMermaid(machine: AnyStateMachine, options: ChartOptions = {}): string {
  const chart = buildChart(machine, options);
  const lines = ['stateDiagram-v2', `  direction ${chart.direction}`];
  const declare = (state: ChartState, indent: string) => {
    if (state.children.length) {
      lines.push(`${indent}state ${label(state)} {`);
      if (state.initial) lines.push(`${indent}  [*] --> ${idOf(chart.root, state.initial)}`);
      for (const child of state.children) declare(child, `${indent}  `);
      lines.push(`${indent}}`);
    } else if (state.id !== state.key) {
      lines.push(`${indent}state "${state.key}" as ${state.id}`);
    }
  };
  for (const state of chart.root.children) declare(state, '  ');
  if (chart.root.initial) lines.push(`  [*] --> ${idOf(chart.root, chart.root.initial)}`);
  for (const { edge, label: text, from } of chart.edges) {
    const targets = edge.targets.length ? edge.targets : [from];
    for (const target of targets) {
      lines.push(`  ${idOf(chart.root, from)} --> ${idOf(chart.root, target)} : ${escapeLabel(text)}`);
    }
  }
  const anchor = chart.root.initial ?? chart.root.children[0]?.path;
  if (chart.legend.length && anchor !== undefined) {
    lines.push(`  note right of ${idOf(chart.root, anchor)}`);
    lines.push('    Summarized here, not drawn (allEdges / --all-edges draws them):');
    for (const line of chart.legend) lines.push(`    ${escapeLabel(line)}`);
    lines.push('  end note');
  }
  for (const state of flatten(chart.root)) {
    if (!state.fill && !state.text) continue;
    const style = [state.fill ? `fill:${state.fill}` : '', state.text ? `color:${state.text}` : '']
      .filter(Boolean)
      .join(',');
    lines.push(`  classDef state_${state.id} ${style}`);
    lines.push(`  class ${state.id} state_${state.id}`);
  }
  return `${lines.join('\n')}\n`;
}

function label(state: ChartState): string {
  return state.id === state.key ? state.id : `"${state.key}" as ${state.id}`;
}

function flatten(state: ChartState): ChartState[] {
  return state.children.flatMap((child) => [child, ...flatten(child)]);
}

function idOf(root: ChartState, path: string): string {
  const found = flatten(root).find((state) => state.path === path);
  return found ? found.id : path;
}

/** Mermaid ends a label at a newline and reads `;` and `#` specially. */
function escapeLabel(text: string): string {
  return text.replace(/[\n;]/g, ',').replace(/#/g, '№');
}
