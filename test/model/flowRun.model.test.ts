import { flowRunMachine } from '../../machines/index.ts';
import { defineModelSuite } from './modelSuite.ts';
import { flowRunEvents, flowRunSpec, initialFlowModel, type FlowModel } from './flowRunSpec.ts';

/**
 * Generated from the graph of flowRunMachine: one test per definition edge and per maximal simple
 * path, each step checked against the hand-written flow-run table. The context (failure reason,
 * manual mark) is finite, so vertices are the whole snapshot and every simple path is enumerated.
 */
defineModelSuite({
  title: 'flowRunMachine',
  machine: flowRunMachine,
  spec: flowRunSpec,
  variants: [{ label: 'default input', input: undefined, initialModel: initialFlowModel() }],
  events: flowRunEvents,
  project: (snapshot): FlowModel => ({
    state: typeof snapshot.value === 'string' ? snapshot.value : `running.${snapshot.value.running}`,
    ...snapshot.context,
  }),
  bound: 'vertex = state + context; all simple paths',
});
