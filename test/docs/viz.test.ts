import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { allTaskInstanceStates, flowRunMachine, stateColors, stateTextColor, taskInstanceMachine } from '../../machines/index.ts';
import { machineEdges } from '../../src/testing/index.ts';
import { stateHex, stateTextHex, toDot, toMermaid } from '../../src/viz/index.ts';

const transitionLines = (chart: string) => chart.split('\n').filter((line) => / --> /.test(line) && !line.includes('[*]'));
const dotEdgeLines = (chart: string) => chart.split('\n').filter((line) => / -> /.test(line) && !line.includes('__start'));
const lifecycleEdges = machineEdges(taskInstanceMachine).filter(
  (edge) => edge.eventType !== 'SET_STATE' && edge.eventType !== 'CLEAR',
);

describe('toMermaid', () => {
  const chart = toMermaid(taskInstanceMachine);

  it('draws every lifecycle edge of the definition, labelled with event and guard', () => {
    expect(chart.startsWith('stateDiagram-v2\n  direction LR\n  [*] --> none\n')).toBe(true);
    expect(transitionLines(chart)).toHaveLength(lifecycleEdges.length);
    expect(chart).toContain('  running --> up_for_retry : FAIL [canRetryFailedAttempt]\n');
    expect(chart).toContain('  running --> failed : FAIL [else]\n');
    expect(chart).toContain('  running --> running : START [isCurrentAttempt]\n');
    expect(chart).toContain('  restarting --> up_for_retry : STOPPED\n');
  });

  it('summarizes the manual edges in a note, derived from the definition', () => {
    expect(chart).toContain(
      [
        '  note right of none',
        '    Summarized here, not drawn (allEdges / --all-edges draws them):',
        '    SET_STATE: any state → success | failed | skipped, never to the state it is in (39 edges)',
        '    CLEAR: any state but none, running → none · running → restarting (13 edges)',
        '  end note',
      ].join('\n'),
    );
    expect(chart).not.toMatch(/--> \w+ : (SET_STATE|CLEAR)/);
  });

  it('colours every state with its Airflow colour and text colour', () => {
    for (const state of allTaskInstanceStates) {
      expect(chart).toContain(`  classDef state_${state} fill:${stateColors[state]},color:${stateTextColor(state)}\n`);
      expect(chart).toContain(`  class ${state} state_${state}\n`);
    }
    expect(chart).toContain('classDef state_checkpointed fill:lightyellow,color:black');
  });

  it('draws all 76 edges with allEdges, and is deterministic', () => {
    const all = toMermaid(taskInstanceMachine, { allEdges: true });
    expect(transitionLines(all)).toHaveLength(76);
    expect(all).toContain('  restarting --> skipped : SET_STATE [isManualTarget(state=skipped)]\n');
    expect(all).toContain('  running --> restarting : CLEAR\n');
    expect(all).not.toContain('note right of');
    expect(toMermaid(taskInstanceMachine)).toBe(chart);
  });

  it('accepts the flow-run machine and options', () => {
    const flow = toMermaid(flowRunMachine, { direction: 'TB', showGuards: false, showActions: true });
    expect(flow).toContain('  direction TB\n');
    expect(flow).toContain('  [*] --> queued\n');
    expect(flow).toContain('  state running {\n    [*] --> running__active\n');
    expect(flow).toContain('  running__active --> running__cancelling : CANCEL\n');
    expect(flow).toContain('  queued --> failed : FAIL / recordFailure\n');
    expect(flow).toContain('    SET_STATE: any state → success | failed, never to the state it is in (6 edges)\n');
    expect(flow).toContain('  classDef state_running fill:lime,color:black\n');
  });

  it('draws compound states as composite states', () => {
    const nested = setup({}).createMachine({
      id: 'job',
      initial: 'work',
      states: { work: { initial: 'fetch', states: { fetch: { on: { GOT: 'save' } }, save: {} }, on: { STOP: 'done' } }, done: {} },
    });
    expect(toMermaid(nested, { colors: { done: 'green' } })).toBe(
      [
        'stateDiagram-v2',
        '  direction LR',
        '  state work {',
        '    [*] --> work__fetch',
        '    state "fetch" as work__fetch',
        '    state "save" as work__save',
        '  }',
        '  [*] --> work',
        '  work --> done : STOP',
        '  work__fetch --> work__save : GOT',
        '  classDef state_done fill:green',
        '  class done state_done',
        '',
      ].join('\n'),
    );
  });
});

describe('toDot', () => {
  const chart = toDot(taskInstanceMachine);

  it('is a digraph with filled nodes in the state colours, as hex values', () => {
    expect(chart.startsWith('digraph "taskInstance" {\n')).toBe(true);
    expect(chart.endsWith('}\n')).toBe(true);
    for (const state of allTaskInstanceStates) {
      expect(chart).toContain(`  "${state}" [label="${state}", fillcolor="${stateHex(state)}", fontcolor="${stateTextHex(state)}"];\n`);
    }
    expect(chart).toContain('"__start" -> "none";');
    // Graphviz's (X11) green is CSS lime: as names, success and running would both be bright green.
    expect(chart).toContain('"success" [label="success", fillcolor="#008000", fontcolor="#ffffff"]');
    expect(chart).toContain('"running" [label="running", fillcolor="#00ff00", fontcolor="#000000"]');
    // Every statement line ends with ';' or opens/closes a block.
    for (const line of chart.trim().split('\n').slice(1, -1)) expect(line).toMatch(/[;{}]$/);
  });

  it('draws the lifecycle edges and a legend by default, every edge with allEdges', () => {
    expect(dotEdgeLines(chart)).toHaveLength(lifecycleEdges.length);
    expect(chart).toContain('  "running" -> "up_for_retry" [label="FAIL [canRetryFailedAttempt]"];\n');
    expect(chart).toContain('"__legend" [shape=note');
    expect(chart).toContain('CLEAR: any state but none, running → none · running → restarting (13 edges)\\l');
    const all = toDot(taskInstanceMachine, { allEdges: true });
    expect(dotEdgeLines(all)).toHaveLength(76);
    expect(all).not.toContain('__legend');
  });

  it('renders the flow-run machine and compound states as clusters', () => {
    expect(toDot(flowRunMachine)).toContain('  "failed" -> "queued" [label="RERUN"];\n');
    const nested = setup({}).createMachine({
      id: 'job',
      initial: 'work',
      states: { work: { initial: 'fetch', states: { fetch: { on: { GOT: 'save' } }, save: {} }, on: { STOP: 'done' } }, done: { on: { AGAIN: 'work' } } },
    });
    const dot = toDot(nested);
    expect(dot).toContain('  subgraph "cluster_work" {\n    label="work";');
    expect(dot).toContain('  "__start" -> "work__fetch";\n');
    expect(dot).toContain('  "work__fetch" -> "done" [label="STOP", ltail="cluster_work"];\n');
    expect(dot).toContain('  "done" -> "work__fetch" [label="AGAIN", lhead="cluster_work"];\n');
  });
});
