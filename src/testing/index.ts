/**
 * `taskmachine/testing`: model-based testing helpers for XState machines — the lifecycle machines
 * of taskmachine and your own. Generate one test per definition edge and per simple path, replay
 * them against a live actor or any implementation, and fail the build on any state or edge that no
 * test reaches.
 *
 * @example
 * ```ts
 * import { pathTests, assertFullCoverage, formatCoverage } from 'taskmachine/testing';
 * ```
 * @module
 */
export {
  pathTests,
  type PathTestOptions,
  type PathTestSuite,
  type PathCase,
  type EdgeCase,
  type VertexCase,
  type PathStep,
} from './pathTests.ts';
export {
  assertFullCoverage,
  mergeCoverage,
  formatCoverage,
  type Coverage,
  type CoverageSource,
} from './coverage.ts';
export {
  machineEdges,
  machineStates,
  formatEdgeLabel,
  formatStateValue,
  type EdgeDefinition,
} from './machineGraph.ts';
export { formatEvent } from './formatEvent.ts';
export { taskInstanceEvents, taskInstanceStateKey } from './taskInstanceEvents.ts';
export { CoverageError, TraversalLimitError } from './errors.ts';
// The clock a test injects (`runFlow(f, { clock })`) to take retries, timeouts and deferrals without waiting.
export { createTestClock, type TestClock } from '../clock.ts';
