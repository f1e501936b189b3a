import type { AnyStateMachine } from 'xstate';
import { flowRunMachine, taskInstanceMachine } from '../../../machines/index.ts';
import { toDot, toMermaid } from '../../viz/index.ts';
import { defineCommand } from '../command.ts';

const machines: Readonly<Record<string, AnyStateMachine>> = {
  'task-instance': taskInstanceMachine,
  'flow-run': flowRunMachine,
};

/** `taskmachine viz machine <task-instance|flow-run>`: prints a lifecycle chart. */
export const vizCommand = defineCommand({
  name: 'viz',
  summary: 'Print the state chart of a lifecycle machine (Mermaid or Graphviz DOT)',
  description:
    'The chart is read from the machine definition: every state in its Airflow colour and every\n' +
    'transition with its event and guard. The manual SET_STATE and CLEAR transitions go from\n' +
    'nearly every state, so they are summarized in a note unless --all-edges is given.',
  args: [
    { name: 'what', description: 'What to draw', choices: ['machine'] },
    { name: 'machine', description: 'Which machine', choices: Object.keys(machines) },
  ],
  options: {
    format: {
      type: 'string',
      short: 'f',
      description: 'Output format',
      choices: ['mermaid', 'dot'],
      default: 'mermaid',
    },
    'all-edges': { type: 'boolean', description: 'Draw every SET_STATE and CLEAR edge instead of a note' },
  },
  examples: [
    'taskmachine viz machine task-instance',
    'taskmachine viz machine flow-run --format dot | dot -Tsvg > flow-run.svg',
  ],
  run({ args, options, stdout }) {
    const machine = machines[args.machine!]!;
    const chartOptions = { allEdges: options['all-edges'] };
    stdout(options.format === 'dot' ? toDot(machine, chartOptions) : toMermaid(machine, chartOptions));
  },
});
