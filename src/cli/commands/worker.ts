import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Flow } from '../../flow/types.ts';
import type { Gate } from '../../gates/defineGate.ts';
import type { Listener } from '../../listeners/types.ts';
import type { PostgresStore } from '../../stores/postgresStore.ts';
import { definitionHash, shortHash } from '../../flow/flowShape.ts';
import { startWorker } from '../../workers/worker.ts';
import { defineCommand, UsageError } from '../command.ts';
import { loadFlowModule } from '../../operate/loadFlow.ts';
import { parseConcurrency, parseGrace } from '../session.ts';
import { isPostgresUrl, openStore, shownStore } from '../storeOption.ts';
import { shellWord } from '../hints.ts';
import { stopBegun } from '../processGuards.ts';

/** `taskmachine worker <flow-file>...`: runs attempts of runs started with `--executor workers`. */
export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'Run attempts (and adopt orphaned runs) of the given flows, with the PostgreSQL store',
  description:
    "Takes attempts of runs started with '--executor workers' (or runFlow's executor: 'workers') from\n" +
    'the shared PostgreSQL store, runs them (at most --concurrency at once) and stores each outcome;\n' +
    'the run\'s driver applies it. It also adopts runs of these flows whose driver is gone (its lease\n' +
    "expired, or 'run --detach' let go of it) and drives them to their end. A run whose flow definition\n" +
    'differs from the one this worker loaded is refused with one log line; its attempts wait for a\n' +
    "worker with the same files ('taskmachine status' says so). Start one on every machine, with the\n" +
    'same flow files. Runs until Ctrl-C/SIGTERM: running attempts are aborted with reason \'preempt\'\n' +
    '(a task may checkpoint) and get --grace ms to end; those that fail or still run then are handed\n' +
    'back, and run again elsewhere as interruptions (no retry used).',
  args: [{ name: 'flowFile', description: 'Files that export the flows to run', repeated: true }],
  options: {
    // (No default: a worker only works on the PostgreSQL store its drivers use.)
    store: { type: 'string', description: 'The PostgreSQL store the drivers use (required): postgres://user:password@host:port/database', valueName: '<url>' },
    concurrency: { type: 'string', description: 'Most attempts this worker runs at once', default: '16', valueName: '<n>' },
    grace: { type: 'string', description: 'On Ctrl-C/SIGTERM, ms running attempts get to finish or checkpoint', default: '10000', valueName: '<ms>' },
    'no-adopt': { type: 'boolean', description: 'Run attempts only; never become the driver of an orphaned run' },
  },
  examples: [
    'taskmachine worker flows/etl.ts --store postgres://tm:secret@db.internal/app',
    'taskmachine worker flows/*.ts --store "$DATABASE_URL" --concurrency 32',
  ],
  async run({ args, rest, options, stdout, cwd }) {
    if (options.store === undefined || !isPostgresUrl(options.store)) {
      throw new UsageError(
        options.store === undefined
          ? 'worker: needs --store, the PostgreSQL store the drivers use (postgres://…).'
          : `worker: --store must be the PostgreSQL store the drivers use (postgres://…), got ${shellWord(shownStore(options.store))}.`,
        'Workers share runs through PostgreSQL: taskmachine worker flows/etl.ts --store postgres://user:password@host:5432/db',
      );
    }
    const concurrency = parseConcurrency(options.concurrency, 'worker');
    const graceMs = parseGrace(options.grace, 'worker');
    const files = onceEach([args.flowFile!, ...rest], cwd);
    const flows: Flow[] = [];
    // The gates and listeners the flow files export: a run this worker adopts is driven with them.
    const drivingWith: Record<string, { gates: readonly Gate[]; listeners: readonly Listener[] }> = {};
    const fileOf = new Map<string, string>();
    for (const file of files) {
      const { flow, gates, listeners } = await loadFlowModule(file, cwd);
      const other = fileOf.get(flow.id);
      if (other !== undefined) {
        throw new UsageError(
          `worker: '${other}' and '${file}' both export a flow with the id '${flow.id}'; a worker runs one definition per flow id.`,
          'Pass only one of the files, or give each flow its own id.',
        );
      }
      fileOf.set(flow.id, file);
      flows.push(flow);
      drivingWith[flow.id] = { gates, listeners };
    }
    const store = (await openStore(options.store, cwd)) as PostgresStore;
    // Signals, counted: the first stops the worker gracefully, a second hands the running attempts
    // back at once (not counted, as after the grace period, instead of leaving them to be found
    // silent 10 s later and counted), a third exits at once.
    let signals = 0;
    let firstSignal: NodeJS.Signals | undefined;
    let first: (signal: NodeJS.Signals) => void = () => {};
    let onSecond = (_signal: NodeJS.Signals) => {};
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) (stopBegun(), (firstSignal = signal), first(signal));
      else if (signals === 2) onSecond(signal);
      else process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const log = (line: string) => stdout(`${line}\n`);
      const worker = await startWorker({ store, flows, concurrency, adopt: options['no-adopt'] !== true, drivingWith, log });
      // Short lines (an 80-column terminal): the worker, then one line per flow, then the store.
      log(`taskmachine worker ${worker.id}: running attempts of ${flows.length === 1 ? 'one flow' : `${flows.length} flows`}, concurrency ${concurrency}`);
      for (const flow of flows) log(`  ${flow.id}  definition ${shortHash(definitionHash(flow))}`);
      log(`  from ${store.server}, schema "${store.schema}"`);
      onSecond = (second) => {
        log(`taskmachine worker ${worker.id}: ${second} again: handing back the running attempts now`);
        void worker.stop({ graceMs: 0 });
      };
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        first = resolve;
        // (A signal that came while the worker started.)
        if (firstSignal !== undefined) resolve(firstSignal);
      });
      const running = worker.running();
      log(`taskmachine worker ${worker.id}: stopping (${signal})`);
      if (running > 0) {
        log(`  ${running} running attempt${running === 1 ? '' : 's'} told to stop ('preempt'); up to ${graceMs} ms to end`);
        log(`  (send ${signal} again to hand ${running === 1 ? 'it' : 'them'} back at once)`);
      }
      await worker.stop({ graceMs });
      return signal === 'SIGINT' ? 130 : 143;
    } finally {
      await store.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});

/**
 * The flow files, each once: a file named twice (overlapping globs, `a.ts ./a.ts`, a symlink to
 * it) is one file — its path resolved from `cwd`, symlinks followed — kept where it first came.
 */
function onceEach(files: readonly string[], cwd: string): string[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    const path = resolve(cwd, file);
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // Not there: loadFlowModule says so, naming the file.
    }
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}
