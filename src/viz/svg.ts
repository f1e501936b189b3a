import type { Viz } from '@viz-js/viz';

let graphviz: Promise<Viz> | undefined;

/**
 * Renders a Graphviz DOT graph (from `toDot` or `runToDot`) to SVG with Graphviz compiled to
 * WebAssembly (`@viz-js/viz`): no `dot` binary needed. The WebAssembly module is loaded on the first
 * call (about a second) and kept.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { dotToSvg, toDot } from 'taskmachine/viz';
 * import { taskInstanceMachine } from 'taskmachine/machines';
 * writeFileSync('lifecycle.svg', await dotToSvg(toDot(taskInstanceMachine)));
 * ```
 * @throws Error with Graphviz's message when the DOT text is not valid.
 */
export async function dotToSvg(dot: string): Promise<string> {
  graphviz ??= import('@viz-js/viz').then((module) => module.instance());
  const result = (await graphviz).render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    const errors = result.errors.filter((error) => error.level !== 'warning').map((error) => error.message.trim());
    throw new Error(`Graphviz could not render the graph: ${errors.join('; ') || 'unknown error'}`);
  }
  return result.output;
}
