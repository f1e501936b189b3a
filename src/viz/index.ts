/**
 * Diagrams of state machines, read from their definitions: Mermaid (`toMermaid`) and Graphviz DOT
 * (`toDot`), coloured with Airflow's state colours; and of runs (`runToMermaid`, `runToDot`).
 *
 * @example
 * ```ts
 * import { toMermaid, toDot } from 'taskmachine/viz';
 * ```
 * @module
 */
export { toMermaid } from './mermaid.ts';
export { toDot } from './dot.ts';
export type { ChartOptions } from './chart.ts';
export { runToMermaid, runToDot } from './runGraph.ts';
