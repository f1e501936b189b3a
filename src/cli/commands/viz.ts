import type { AnyStateMachine } from 'xstate';
import { flowRunMachine, taskInstanceMachine } from '../../../machines/index.ts';
import { dotToSvg, runToDot, runToMermaid, toDot, toMermaid } from '../../viz/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { suggest } from '../../suggest.ts';
import { openStore, storeOption } from '../storeOption.ts';
import { findStoredRun, openStoredRun } from '../storedRun.ts';
import { flowShape } from '../../flow/flowShape.ts';

const machines: Readonly<Record<string, AnyStateMachine>> = {
  'task-instance': taskInstanceMachine,
  'flow-run': flowRunMachine,
};

/** DOT as it is, or rendered to SVG. */
async function render(dot: string, format: string): Promise<string> {
  return format === 'svg' ? dotToSvg(dot) : dot;
}

/** `taskmachine viz machine <task-instance|flow-run>` / `viz run <runId>`: prints a chart. */
export const vizCommand = defineCommand({
  name: 'viz',
  summary: 'Print the state chart of a lifecycle machine, or the graph of a stored run (Mermaid or DOT)',
  description:
    'viz machine: the chart is read from the machine definition — every state in its Airflow colour\n' +
    'and every transition with its event and guard. The manual SET_STATE and CLEAR transitions go\n' +
    'from nearly every state, so they are summarized in a note unless --all-edges is given.\n\n' +
    "viz run: the run's tasks with their dependencies, each in the colour of its state (a mapped\n" +
    "task's instances summarized in one box), read from the store: the run's graph is the one it\n" +
    "stored, so its flow file is not imported (it may have moved). Runs stored by a taskmachine\n" +
    'older than schema 4 have none: their flow file is imported (--flow-file if it moved).',
  args: [
    { name: 'what', description: 'What to draw', choices: ['machine', 'run'] },
    { name: 'target', description: 'The machine (task-instance or flow-run), or the run id' },
  ],
  options: {
    format: {
      type: 'string',
      short: 'f',
      description: 'Output format: Mermaid, Graphviz DOT, or SVG (rendered here, no Graphviz needed)',
      choices: ['mermaid', 'dot', 'svg'],
      default: 'mermaid',
    },
    'all-edges': { type: 'boolean', description: 'viz machine: draw every SET_STATE and CLEAR edge instead of a note' },
    store: storeOption,
    'flow-file': { type: 'string', description: 'viz run: the flow file of a run stored without its graph (before schema 4), if it moved', valueName: '<file>' },
  },
  examples: [
    'taskmachine viz machine task-instance',
    'taskmachine viz machine flow-run --format svg > flow-run.svg',
    'taskmachine viz run nightly-2026-11-22 --format svg > run.svg',
    'taskmachine viz run nightly-2026-11-22 --format dot | dot -Tpng > run.png',
  ],
  async run({ args, options, stdout, cwd }) {
    const target = args.target!;
    // An option of the other form would be ignored, and the chart printed would silently not be
    // the one asked for: refuse it. (--store has a default, so it cannot be told apart here.)
    if (args.what === 'run' && options['all-edges']) {
      throw new UsageError(
        "viz: --all-edges applies to 'viz machine' only: a run's graph has no summarized edges.",
        "Leave out --all-edges, or draw a machine: taskmachine viz machine task-instance --all-edges. Run 'taskmachine viz --help' for its usage.",
      );
    }
    if (args.what === 'machine' && options['flow-file'] !== undefined) {
      throw new UsageError(
        "viz: --flow-file applies to 'viz run' only: a machine's chart is read from its definition.",
        "Leave out --flow-file. Run 'taskmachine viz --help' for its usage.",
      );
    }
    if (args.what === 'machine') {
      const machine = machines[target];
      if (machine === undefined) {
        const close = suggest(target, Object.keys(machines));
        throw new UsageError(
          `viz: unknown machine '${target}'.${close ? ` Did you mean '${close}'?` : ''}`,
          `Choose one of: ${Object.keys(machines).join(', ')}. Run 'taskmachine viz --help' for its usage.`,
        );
      }
      const chartOptions = { allEdges: options['all-edges'] };
      stdout(options.format === 'mermaid' ? toMermaid(machine, chartOptions) : await render(toDot(machine, chartOptions), options.format));
      return;
    }
    const store = await openStore(options.store, cwd, { existing: true });
    try {
      const runId = (await findStoredRun(store, target, options.store)).runId;
      // The run's own shape: its flow file is not imported (its code is not run). A run stored
      // before runs kept their shape is drawn from its flow file, as it was then.
      const shape = (await store.getRunShape(runId)) ?? flowShape((await openStoredRun(store, runId, cwd, options['flow-file'], options.store, 'draw')).module.flow);
      const loaded = (await store.loadRun(runId))!;
      const tasks = Object.fromEntries(loaded.instances.map((instance) => [instance.key, { ...instance, attempts: instance.attempt }]));
      const record = { tasks } as never;
      stdout(options.format === 'mermaid' ? runToMermaid(shape, record) : await render(runToDot(shape, record), options.format));
    } finally {
      await store.close();
    }
  },
});
