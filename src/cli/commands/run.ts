import { relative, resolve } from 'node:path';
import { InputChangedError, RunOwnedError } from '../../errors.ts';
import { ownerStatus } from '../../runtime/opening/ownerStatus.ts';
import { startFlow } from '../../runtime/runFlow.ts';
import { defineCommand, UsageError } from '../command.ts';
import { parseJsonArgument } from '../jsonArgument.ts';
import { loadFlowModule } from '../../operate/loadFlow.ts';
import { openSession, parseConcurrency, parseGrace, parseLeaseTtl, STOP_BOUND_MS } from '../session.ts';
import { isPostgresUrl, openStore, shownStore, storeHint, storeKind, storeOption } from '../storeOption.ts';
import { shellWord } from '../hints.ts';
import { detach } from './detach.ts';

/** Options `run`, `resume` and `resume-task` share. */
export const sessionOptions = {
  concurrency: { type: 'string', description: 'Most attempts running at once', default: '16', valueName: '<n>' },
  store: storeOption,
  grace: {
    type: 'string',
    description: `On Ctrl-C/SIGTERM, ms running attempts get to finish or checkpoint; the process exits at most ${STOP_BOUND_MS / 1000} s later (a second Ctrl-C: at once)`,
    default: '10000',
    valueName: '<ms>',
  },
  'lease-ttl': {
    type: 'string',
    description: "ms this process's hold on the run lives without a heartbeat; after it another process may take the run over",
    default: '30000',
    valueName: '<ms>',
  },
  json: { type: 'boolean', description: 'Print the run record as JSON when it ends (no progress output)' },
  view: {
    type: 'string',
    description: 'Progress display: live on a terminal, plain lines otherwise',
    choices: ['auto', 'live', 'lines', 'none'],
    default: 'auto',
  },
} as const;

/** `taskmachine run <flow-file>`: runs the flow a file exports and shows its progress. */
export const runCommand = defineCommand({
  name: 'run',
  summary: 'Run the flow exported by a .ts or .js file',
  description:
    'Imports the file (Node runs TypeScript directly) and runs the flow it exports by default (or\n' +
    'the one named with --flow), with the readiness gates and listeners it exports as `gates` and\n' +
    '`listeners`. The run is kept in the store (.taskmachine/taskmachine.db by default), so a crash\n' +
    "or Ctrl-C can be continued with 'taskmachine resume <runId>'. Shows a live view with the state\n" +
    'colours on a terminal, plain lines otherwise. Exit code 0 when the run succeeds, 1 when it fails\n' +
    '(or waits on a manual resume), 2 for a bad invocation, input, flow file or store, 130/143 when\n' +
    'interrupted by SIGINT/SIGTERM. The process ends when the run does, whatever timers task code left.',
  args: [{ name: 'flowFile', description: 'File that exports the flow' }],
  options: {
    input: { type: 'string', description: "The run's input: JSON, or @file.json", valueName: '<json|@file>' },
    flow: { type: 'string', description: 'Name of the export to run when the file exports several flows', valueName: '<name>' },
    'run-id': { type: 'string', description: 'Id of the run (default: a random UUID); an existing id is continued', valueName: '<id>' },
    'on-input-change': {
      type: 'string',
      description: 'When --run-id exists with another input: raise an error, reuse its results, or reset it',
      choices: ['raise', 'reuse', 'reset'],
      default: 'raise',
    },
    executor: {
      type: 'string',
      description: "Where attempts run: here, or on 'taskmachine worker' processes (needs --store postgres://…)",
      choices: ['local', 'workers'],
      default: 'local',
    },
    detach: { type: 'boolean', description: 'With --executor workers: store the run and return; a worker drives it' },
    ...sessionOptions,
  },
  examples: [
    'taskmachine run examples/etl.ts',
    `taskmachine run examples/etl.ts --input '{"day":"2026-11-22"}' --concurrency 4`,
    'taskmachine run examples/fan-out.ts --json > run.json',
    'taskmachine run examples/etl.ts --store memory',
    'taskmachine run etl.ts --store "$DATABASE_URL" --executor workers --detach',
  ],
  async run({ args, options, stdout, stderr, cwd }) {
    const concurrency = parseConcurrency(options.concurrency, 'run');
    const graceMs = parseGrace(options.grace, 'run');
    const input = parseJsonArgument(options.input, 'input', 'run', cwd);
    const executor = options.executor as 'local' | 'workers';
    storeKind(options.store); // a mistyped URL is refused here, never taken as a file path
    if (executor === 'workers' && !isPostgresUrl(options.store)) {
      throw new UsageError(
        `run: --executor workers needs the PostgreSQL store the workers share, got --store ${shellWord(shownStore(options.store))}.`,
        'Pass --store postgres://user:password@host:5432/db (the same one the workers use), or leave out --executor.',
      );
    }
    if (options.detach === true && executor !== 'workers') {
      throw new UsageError('run: --detach needs --executor workers (a worker drives a detached run).', 'Add --executor workers --store postgres://…');
    }
    // Everything that can be refused is checked before the store is opened (or created).
    const leaseTtl = parseLeaseTtl(options['lease-ttl'], 'run');
    if (options['run-id'] !== undefined && options['run-id'].trim() === '') {
      throw new UsageError(`run: --run-id must not be empty, got '${options['run-id']}'.`, 'Leave it out for a random id, or give the run a name: --run-id nightly-2026-11-22.');
    }
    const { flow: definition, gates, listeners } = await loadFlowModule(args.flowFile!, cwd, options.flow);
    const store = await openStore(options.store, cwd);
    if (options.detach === true) {
      try {
        return await detach(definition, store, {
          input,
          concurrency,
          labels: {
            flowFile: resolve(cwd, args.flowFile!),
            ...(options.flow !== undefined ? { flowExport: options.flow } : {}),
            startedFrom: relative(cwd, resolve(cwd, args.flowFile!)),
          },
          ...(options['run-id'] !== undefined ? { runId: options['run-id'] } : {}),
          onInputChange: options['on-input-change'] as 'raise' | 'reuse' | 'reset',
          stdout,
          hint: storeHint(options.store).store,
        });
      } finally {
        await store.close();
      }
    }
    try {
      // A run of that id another live process drives is refused before the view says 'started'.
      if (options['run-id'] !== undefined) {
        const now = Date.now();
        const owner = ownerStatus(await store.getLease(options['run-id']), now);
        if (owner.status === 'live') throw new RunOwnedError({ runId: options['run-id'], owner: owner.lease.owner, heartbeatAt: owner.lease.heartbeatAt, expiresAt: owner.lease.expiresAt, now });
      }
      const flowFile = resolve(cwd, args.flowFile!);
      const session = openSession({
        flowId: definition.id,
        json: options.json,
        view: options.view,
        graceMs,
        durable: options.store !== 'memory',
        executor,
        ...storeHint(options.store),
        stdout,
        stderr,
      });
      const handle = startFlow(definition, {
        input,
        concurrency,
        gates,
        listeners,
        store,
        onInputChange: options['on-input-change'] as 'raise' | 'reuse' | 'reset',
        labels: { flowFile, ...(options.flow !== undefined ? { flowExport: options.flow } : {}), startedFrom: relative(cwd, flowFile) },
        ...(options['run-id'] !== undefined ? { runId: options['run-id'] } : {}),
        leaseTtl,
        executor,
        log: session.log,
      });
      try {
        return await session.run(handle);
      } catch (error) {
        // The library's message names the runFlow option; here the fix is a flag.
        if (error instanceof InputChangedError) {
          throw new UsageError(
            `run: run '${error.runId}' already exists with another input; nothing was run.`,
            `Pass --on-input-change reuse to keep its results, --on-input-change reset to start it over, or use another --run-id.`,
          );
        }
        throw error;
      }
    } finally {
      await store.close();
    }
  },
});
