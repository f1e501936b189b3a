// The results that the TSDoc examples of src/viz promise, computed.
import { describe, expect, it } from 'vitest';
import { flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import { machineEdges, machineStates } from '../../src/testing/index.ts';
import { buildChart, chartId, summarizeEdges } from '../../src/viz/chart.ts';
import { cssColors, hexColor, stateHex, stateTextHex, toMermaid } from '../../src/viz/index.ts';
import { expectExampleLine, promised } from '../model/tsdocExample.ts';

describe('TSDoc examples of src/viz give the results they show', () => {
  const cases: Array<[file: string, line: string, actual: () => unknown]> = [
    [
      'src/viz/chart.ts',
      "buildChart(flowRunMachine).legend; // ['SET_STATE: any state → success | failed, never to the state it is in (6 edges)']",
      () => buildChart(flowRunMachine).legend,
    ],
    ['src/viz/chart.ts', "chartId('work.fetch'); // 'work__fetch'", () => chartId('work.fetch')],
    [
      'src/viz/chart.ts',
      "// ['SET_STATE: any state → success | failed | skipped, never to the state it is in (39 edges)']",
      () =>
        summarizeEdges(
          machineStates(taskInstanceMachine),
          machineEdges(taskInstanceMachine).filter((edge) => edge.eventType === 'SET_STATE'),
        ),
    ],
    ['src/viz/colors.ts', "cssColors.green; // '#008000'", () => cssColors.green],
    ['src/viz/colors.ts', "cssColors.lime; // '#00ff00'", () => cssColors.lime],
    ['src/viz/colors.ts', "hexColor('green'); // '#008000'", () => hexColor('green')],
    ['src/viz/colors.ts', "hexColor('#123456'); // '#123456'", () => hexColor('#123456')],
    ['src/viz/colors.ts', "stateHex('success'); // '#008000'", () => stateHex('success')],
    ['src/viz/colors.ts', "stateHex('running'); // '#00ff00'", () => stateHex('running')],
    ['src/viz/colors.ts', "stateTextHex('failed'); // '#ffffff'", () => stateTextHex('failed')],
  ];
  it.each(cases)('%s: %s', (file, line, actual) => {
    expect(actual()).toEqual(promised(file, line));
  });

  it('toMermaid: the first lines the example shows', () => {
    const shown = ['stateDiagram-v2', '  direction LR', '  [*] --> none', '  none --> scheduled : SCHEDULE'];
    for (const line of shown) expectExampleLine('src/viz/mermaid.ts', `// ${line}`);
    expect(toMermaid(taskInstanceMachine).split('\n').slice(0, 4)).toEqual(shown);
  });
});
