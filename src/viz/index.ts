/**
 * Diagrams of state machines, read from their definitions: Mermaid (`toMermaid`) and Graphviz DOT
 * (`toDot`), coloured with Airflow's state colours; and of runs (`runToMermaid`, `runToDot`). DOT
 * renders to SVG with no Graphviz installed (`dotToSvg`).
 *
 * @example
 * ```ts
 * import { toMermaid, toDot, dotToSvg } from 'taskmachine/viz';
 * ```
 * @module
 */
export { toMermaid } from './mermaid.ts';
export { toDot } from './dot.ts';
export type { ChartOptions } from './chart.ts';
export { runToMermaid, runToDot } from './runGraph.ts';
export { dotToSvg } from './svg.ts';
export { cssColors, hexColor, stateHex, stateTextHex } from './colors.ts';
