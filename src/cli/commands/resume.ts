import { startFlow } from '../../runtime/runFlow.ts';
import { defineCommand } from '../command.ts';
import { parseConcurrency, parseGrace, runSession } from '../session.ts';
import { openStore } from '../storeOption.ts';
import { openStoredRun } from '../storedRun.ts';
import { sessionOptions } from './run.ts';

const flowFileOption = {
  type: 'string',
  description: "The flow file, when the run does not record it (it was not started by 'taskmachine run')",
  valueName: '<file>',
} as const;

/** `taskmachine resume <runId>`: continues a stored run. */
export const resumeCommand = defineCommand({
  name: 'resume',
  summary: 'Continue a stored run after a crash, Ctrl-C or a manual change',
  description:
    'Rebuilds every task instance from the store and continues: finished tasks are not run again\n' +
    '(their results feed downstream), attempts that were running in a process that died count as\n' +
    'failed attempts (retried while attempts remain), timers continue from their stored deadlines,\n' +
    'queued tasks start their readiness gates again. The flow file is the one the run was started\n' +
    'from; the stored input is used.',
  args: [{ name: 'runId', description: 'The run to continue' }],
  options: { 'flow-file': flowFileOption, ...sessionOptions },
  examples: ['taskmachine resume 3f2a9c1e-…', 'taskmachine resume nightly-2026-11-22 --store runs.db'],
  async run({ args, options, stdout, stderr, cwd }) {
    const concurrency = parseConcurrency(options.concurrency, 'resume');
    const graceMs = parseGrace(options.grace, 'resume');
    const store = openStore(options.store, cwd);
    try {
      const { module } = await openStoredRun(store, args.runId!, cwd, options['flow-file'], options.store);
      const handle = startFlow(module.flow, {
        store,
        runId: args.runId!,
        resume: true,
        concurrency,
        gates: module.gates,
        listeners: module.listeners,
        log: (line) => stderr(`${line}\n`),
      });
      return await runSession(handle, { flowId: module.flow.id, json: options.json, view: options.view, graceMs, durable: true, verb: 'resumed', stdout, stderr });
    } finally {
      await store.close();
    }
  },
});

/** `taskmachine resume-task <runId> <taskKey>`: resumes a checkpointed task and continues the run. */
export const resumeTaskCommand = defineCommand({
  name: 'resume-task',
  summary: 'Resume a checkpointed task instance (checkpointed → scheduled) and continue its run',
  description:
    'The task runs again with the data it checkpointed as ctx().resumeData; its attempt number is\n' +
    'unchanged and no retry is used. The rest of the run continues as with `resume`.',
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key, e.g. train or score[3]" },
  ],
  options: { 'flow-file': flowFileOption, ...sessionOptions },
  examples: ['taskmachine resume-task nightly train'],
  async run({ args, options, stdout, stderr, cwd }) {
    const concurrency = parseConcurrency(options.concurrency, 'resume-task');
    const graceMs = parseGrace(options.grace, 'resume-task');
    const store = openStore(options.store, cwd);
    try {
      const { module } = await openStoredRun(store, args.runId!, cwd, options['flow-file'], options.store);
      const handle = startFlow(module.flow, {
        store,
        runId: args.runId!,
        resume: true,
        concurrency,
        gates: module.gates,
        listeners: module.listeners,
        log: (line) => stderr(`${line}\n`),
      });
      await handle.ready();
      handle.resumeTask(args.taskKey!);
      return await runSession(handle, { flowId: module.flow.id, json: options.json, view: options.view, graceMs, durable: true, verb: 'resumed', stdout, stderr });
    } finally {
      await store.close();
    }
  },
});
