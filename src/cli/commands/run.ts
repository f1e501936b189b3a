import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startFlow } from '../../runtime/runFlow.ts';
import { useColor } from '../ansi.ts';
import { defineCommand, UsageError } from '../command.ts';
import { loadFlowModule } from '../loadFlow.ts';
import { liveProgress, lineProgress } from '../progress.ts';
import { runRecordToJson } from '../serialize.ts';

function parseInput(text: string | undefined, cwd: string): unknown {
  if (text === undefined) return undefined;
  let json = text;
  if (text.startsWith('@')) {
    const path = resolve(cwd, text.slice(1));
    try {
      json = readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`run: cannot read the input file '${text.slice(1)}' (${path}).`, 'Use --input @<file.json> with an existing file, or --input <json>.');
    }
  }
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new UsageError(
      `run: --input is not valid JSON: ${(error as Error).message}.`,
      `Quote it for your shell, e.g. --input '{"day":"2026-11-22"}', or use --input @input.json.`,
    );
  }
}

/** `taskmachine run <flow-file>`: runs the flow a file exports and shows its progress. */
export const runCommand = defineCommand({
  name: 'run',
  summary: 'Run the flow exported by a .ts or .js file',
  description:
    'Imports the file (Node runs TypeScript directly) and runs the flow it exports by default (or\n' +
    'the one named with --flow), with the readiness gates it exports as `gates`. Shows progress:\n' +
    'a live view with the state colours on a terminal, plain lines otherwise. Exit code 0 when the\n' +
    'run succeeds, 1 when it fails (or waits on a manual resume), 2 for a bad invocation or an\n' +
    'invalid flow definition.',
  args: [{ name: 'flowFile', description: 'File that exports the flow' }],
  options: {
    input: { type: 'string', description: "The run's input: JSON, or @file.json", valueName: '<json|@file>' },
    concurrency: { type: 'string', description: 'Most attempts running at once', default: '16', valueName: '<n>' },
    flow: { type: 'string', description: 'Name of the export to run when the file exports several flows', valueName: '<name>' },
    'run-id': { type: 'string', description: 'Id of the run (default: a random UUID)', valueName: '<id>' },
    json: { type: 'boolean', description: 'Print the run record as JSON when it ends (no progress output)' },
    view: {
      type: 'string',
      description: 'Progress display: live on a terminal, plain lines otherwise',
      choices: ['auto', 'live', 'lines', 'none'],
      default: 'auto',
    },
  },
  examples: [
    'taskmachine run examples/etl.ts',
    `taskmachine run examples/etl.ts --input '{"day":"2026-11-22"}' --concurrency 4`,
    'taskmachine run examples/fan-out.ts --json > run.json',
  ],
  async run({ args, options, stdout, stderr, cwd }) {
    const concurrency = Number(options.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new UsageError(`run: --concurrency must be a whole number ≥ 1, got '${options.concurrency}'.`);
    }
    const input = parseInput(options.input, cwd);
    const { flow: definition, gates } = await loadFlowModule(args.flowFile!, cwd, options.flow);
    const handle = startFlow(definition, {
      input,
      concurrency,
      gates,
      ...(options['run-id'] !== undefined ? { runId: options['run-id'] } : {}),
      log: (line) => stderr(`${line}\n`),
    });
    const isTTY = process.stdout.isTTY === true;
    const view = options.json ? 'none' : options.view === 'auto' ? (isTTY ? 'live' : 'lines') : options.view;
    const progress =
      view === 'live'
        ? liveProgress(handle, definition.id, stdout, Date.now, useColor(isTTY))
        : view === 'lines'
          ? lineProgress(handle, definition.id, stdout, Date.now)
          : undefined;
    let interrupted = false;
    const onSignal = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      stderr('\ninterrupted: cancelling the run (press Ctrl-C again to exit at once)\n');
      handle.cancel('interrupted (SIGINT)');
    };
    process.on('SIGINT', onSignal);
    try {
      const record = await handle.settled();
      progress?.stop(record);
      if (options.json) stdout(`${runRecordToJson(record)}\n`);
      if (interrupted) return 130;
      return record.state === 'success' ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  },
});
