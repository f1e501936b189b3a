// The results that the TSDoc examples of src/testing promise, computed: they had drifted (73 edges
// for 76, flowRunMachine's states without running.*, a mergeCoverage example that threw).
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import {
  formatCoverage,
  formatEdgeLabel,
  formatEvent,
  formatStateValue,
  machineEdges,
  machineStates,
  mergeCoverage,
  pathTests,
  taskInstanceEvents,
  taskInstanceStateKey,
} from '../../src/testing/index.ts';
import { createCoverage } from '../../src/testing/coverage.ts';
import { formatParams, statePath } from '../../src/testing/machineGraph.ts';
import { promised } from './tsdocExample.ts';

const taskInstanceSuite = (retries: number) =>
  pathTests(taskInstanceMachine, {
    input: { retries, maxInterruptions: 1 },
    events: (snapshot) => taskInstanceEvents(snapshot),
    serializeState: taskInstanceStateKey,
  });

describe('TSDoc examples of src/testing give the results they show', () => {
  const cases: Array<[file: string, line: string, actual: () => unknown]> = [
    [
      'src/testing/machineGraph.ts',
      "// ['running →FAIL[canRetryFailedAttempt]→ up_for_retry', 'running →FAIL[else]→ failed']",
      () => machineEdges(taskInstanceMachine).filter((e) => e.eventType === 'FAIL').map((e) => e.label),
    ],
    [
      'src/testing/machineGraph.ts',
      "// ['queued', 'running', 'running.active', 'running.paused', 'running.cancelling', 'running.stopping', 'running.detached', 'success', 'failed']",
      () => machineStates(flowRunMachine),
    ],
    ['src/testing/machineGraph.ts', 'machineEdges(taskInstanceMachine).length; // 76', () => machineEdges(taskInstanceMachine).length],
    [
      'src/testing/machineGraph.ts',
      "// 'running →FAIL[else]→ failed'",
      () => formatEdgeLabel({ source: 'running', eventType: 'FAIL', guard: undefined, fallback: true, targets: ['failed'] }),
    ],
    ['src/testing/machineGraph.ts', "formatStateValue({ payment: 'pending' }); // 'payment.pending'", () => formatStateValue({ payment: 'pending' })],
    [
      'src/testing/machineGraph.ts',
      "statePath(taskInstanceMachine.root.states.running); // 'running'",
      () => statePath(taskInstanceMachine.root.states.running!),
    ],
    ['src/testing/machineGraph.ts', "formatParams({ state: 'failed', n: 2 }); // 'state=failed, n=2'", () => formatParams({ state: 'failed', n: 2 })],
    ['src/testing/formatEvent.ts', "formatEvent({ type: 'START', attempt: 2 }); // 'START(attempt=2)'", () => formatEvent({ type: 'START', attempt: 2 } as { type: string })],
    ['src/testing/formatEvent.ts', "formatEvent({ type: 'FAIL', failFast: true }); // 'FAIL(failFast)'", () => formatEvent({ type: 'FAIL', failFast: true } as { type: string })],
    ['src/testing/formatEvent.ts', "formatEvent({ type: 'QUEUE' }); // 'QUEUE'", () => formatEvent({ type: 'QUEUE' })],
    [
      'src/testing/coverage.ts',
      "createCoverage('light', ['on', 'off'], edges, new Set(['on']), new Set()).uncoveredStates; // ['off']",
      () => createCoverage('light', ['on', 'off'], [], new Set(['on']), new Set()).uncoveredStates,
    ],
    [
      'src/testing/coverage.ts',
      'suites[0].coverage.uncoveredEdges.length; // 2 (with no retry, the retry branches are never taken)',
      () => taskInstanceSuite(0).coverage.uncoveredEdges.length,
    ],
    ['src/testing/coverage.ts', 'mergeCoverage(...suites).uncoveredEdges; // []', () => mergeCoverage(taskInstanceSuite(0), taskInstanceSuite(1)).uncoveredEdges],
    ['src/testing/coverage.ts', "formatCoverage(suite); // 'taskInstance: 14/14 states, 76/76 edges'", () => formatCoverage(taskInstanceSuite(1))],
    ['src/testing/taskInstanceEvents.ts', "formatCoverage(suite); // 'taskInstance: 14/14 states, 76/76 edges'", () => formatCoverage(taskInstanceSuite(1))],
  ];
  it.each(cases)('%s: %s', (file, line, actual) => {
    expect(actual()).toEqual(promised(file, line));
  });

  it('Coverage: the light machine of the example', () => {
    const light = createMachine({
      id: 'light',
      initial: 'green',
      states: { green: { on: { NEXT: 'yellow' } }, yellow: { on: { NEXT: 'red' } }, red: { on: { NEXT: 'green' } }, off: {} },
    });
    const { coverage } = pathTests(light, { events: [{ type: 'NEXT' }] });
    expect(coverage.uncoveredStates).toEqual(promised('src/testing/coverage.ts', "coverage.uncoveredStates; // ['off']"));
    expect(formatCoverage(coverage)).toEqual(promised('src/testing/coverage.ts', "formatCoverage(coverage); // 'light: 3/4 states, 3/3 edges'"));
  });
});
