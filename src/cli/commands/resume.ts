import { flowHash, flowShape } from '../../flow/flowShape.ts';
import type { Flow } from '../../flow/types.ts';
import { EXECUTOR_LABEL } from '../../runtime/settings.ts';
import { startFlow } from '../../runtime/runFlow.ts';
import type { StoredRun } from '../../stores/index.ts';
import { defineCommand, UsageError, type CommandContext } from '../command.ts';
import { continueCommand, shellWord, storeArgument } from '../hints.ts';
import { RunOwnedError } from '../../errors.ts';
import { ownerStatus } from '../../runtime/opening/ownerStatus.ts';
import { parseJsonArgument } from '../jsonArgument.ts';
import { openSession, parseConcurrency, parseGrace, parseLeaseTtl } from '../session.ts';
import { openStore, storeHint } from '../storeOption.ts';
import { askOwner, isDriven } from '../../operate/control.ts';
import { findStoredRun, flowFileOption, openStoredRun } from '../storedRun.ts';
import { pausedHandle } from '../../operate/pausedRun.ts';
import { sessionOptions } from './run.ts';
import { wrapLine } from '../wrapText.ts';

const resumeOptions = { 'flow-file': flowFileOption, ...sessionOptions } as const;
const resumeTaskOptions = {
  ...resumeOptions,
  payload: { type: 'string', description: "What the task's next attempt sees as ctx().event: JSON, or @file.json", valueName: '<json|@file>' },
} as const;

/** Opens a stored run and runs it on with the flow file's gates and listeners. */
async function continueRun(
  name: string,
  { args, options, stdout, stderr, cwd }: CommandContext<typeof resumeOptions>,
  { concurrency, graceMs, leaseTtl } = sessionSettings(name, options),
): Promise<number> {
  const store = await openStore(options.store, cwd, { existing: true });
  try {
    const { run, module } = await openStoredRun(store, args.runId!, cwd, options['flow-file'], options.store);
    const changed = definitionChange(run, module.flow);
    if (changed !== undefined) stderr(changed);
    // A run started with --executor workers goes on with its attempts on workers.
    const executor = run.labels?.[EXECUTOR_LABEL] === 'workers' ? 'workers' : 'local';
    // A run a live process drives is refused before anything is shown (startFlow would refuse it
    // too, after the view said 'resumed'); one a worker took over needs no resume at all.
    const now = Date.now();
    const owner = ownerStatus(await store.getLease(run.runId), now);
    if (owner.status === 'live') {
      const refused = new RunOwnedError({ runId: run.runId, owner: owner.lease.owner, heartbeatAt: owner.lease.heartbeatAt, expiresAt: owner.lease.expiresAt, now });
      if (executor === 'workers') {
        throw new UsageError(
          `${refused.message} (With --executor workers that process is likely a worker that took the run over: it needs no resume.)`,
          `Follow it with: taskmachine status ${shellWord(run.runId)}${storeArgument(options.store)}`,
        );
      }
      throw refused;
    }
    const session = openSession({ flowId: module.flow.id, json: options.json, view: options.view, graceMs, durable: true, verb: 'resumed', executor, ...storeHint(options.store), stdout, stderr });
    const handle = startFlow(module.flow, {
      store,
      runId: run.runId,
      resume: true,
      concurrency,
      gates: module.gates,
      listeners: module.listeners,
      leaseTtl,
      executor,
      log: session.log,
    });
    return await session.run(handle);
  } finally {
    await store.close();
  }
}

/** The options `continueRun` drives the run with, checked (a bad one is a `UsageError`). */
function sessionSettings(name: string, options: CommandContext<typeof resumeOptions>['options']) {
  return {
    concurrency: parseConcurrency(options.concurrency, name),
    graceMs: parseGrace(options.grace, name),
    leaseTtl: parseLeaseTtl(options['lease-ttl'], name),
  };
}

/**
 * A note when the flow file's definition is not the one the run was last driven with (its stored
 * flow hash differs): the run goes on with this one, which it records. `undefined` when it is the
 * same, or the run predates flow hashes.
 */
function definitionChange(run: StoredRun, flow: Flow): string | undefined {
  if (run.flowHash === undefined || run.flowHash === flowHash(flowShape(flow))) return undefined;
  return (
    `taskmachine: note: the flow definition differs from the one run '${run.runId}' was last driven with ` +
    '(tasks, edges or options changed); it goes on with this one: new tasks run, removed ones are marked removed.\n'
  );
}

/** `taskmachine resume <runId>`: continues a stored run. */
export const resumeCommand = defineCommand({
  name: 'resume',
  summary: 'Continue a stored run after a crash, Ctrl-C or a manual change',
  description:
    'Rebuilds every task instance from the store and continues: finished tasks are not run again\n' +
    '(their results feed downstream), attempts that were running in a process that died or was\n' +
    'stopped were interrupted, not failed: they run again as the same attempt (no retry used; an\n' +
    'instance interrupted more than maxInterruptions times fails), timers continue from their stored\n' +
    'deadlines, queued tasks start their readiness gates again. The flow file is the one the run was\n' +
    'started from; the stored input is used. A run another live process drives is refused (exit 2,\n' +
    'naming that process); one whose process died is taken over (at once on the same host, otherwise\n' +
    'once its lease has expired).',
  args: [{ name: 'runId', description: 'The run to continue' }],
  options: resumeOptions,
  examples: ['taskmachine resume 3f2a9c1e', 'taskmachine resume nightly-2026-11-22 --store runs.db'],
  run: (context) => continueRun('resume', context),
});

/**
 * `resume-task` and `send-event`: the answer a waiting task instance needs, then the run goes on.
 * When another process drives the run, that process applies the answer (and runs the task) and
 * this command returns at once; otherwise the answer is applied on the run opened for manual
 * changes only — so a key the run does not have, or an instance that does not wait for this
 * answer, is refused (exit 2) before any task body runs — and the run continues here as with
 * `resume`.
 */
async function answerAndContinue(name: 'resume-task' | 'send-event', context: CommandContext<typeof resumeTaskOptions>): Promise<number> {
  const { args, options, cwd, stdout } = context;
  const taskKey = args.taskKey!;
  let runId = args.runId!;
  const payload = parseJsonArgument(options.payload, 'payload', name, cwd);
  // Checked before the answer is applied: a bad option must not leave it applied and the run not continued.
  const settings = sessionSettings(name, options);
  const store = await openStore(options.store, cwd, { existing: true });
  try {
    runId = (await findStoredRun(store, runId, options.store)).runId;
    const instance = (await store.loadRun(runId))?.instances.find((candidate) => candidate.key === taskKey);
    // The other of the two answers: name the command that gives it.
    const other = name === 'resume-task' ? 'deferred' : 'checkpointed';
    // A deferral until a time waits for no answer: it goes on by itself when the run is driven.
    if (instance?.state === 'deferred' && !instance.awaitsEvent) {
      throw new UsageError(
        `${name}: task instance '${taskKey}' is deferred until a time, not waiting for ${name === 'resume-task' ? 'a resume' : 'an event'}: it runs again by itself then.`,
        `Continue the run with: taskmachine resume ${shellWord(runId)}${storeArgument(options.store)}`,
      );
    }
    if (instance?.state === other) {
      const what = other === 'deferred' ? 'deferred until an event, not checkpointed' : 'checkpointed, not deferred until an event';
      throw new UsageError(`${name}: task instance '${taskKey}' is ${what}.`, `Continue it with: ${continueCommand(runId, instance, storeArgument(options.store))}`);
    }
    if (isDriven(await store.getLease(runId))) {
      const outcome = await askOwner(store, runId, { action: name, taskKey, ...(payload === undefined ? {} : { payload }) });
      if (outcome !== undefined) {
        const owner = outcome.owner;
        const done = name === 'resume-task' ? 'resumed' : 'applied';
        stdout(`${wrapLine(`${outcome.message} (${done} by the process driving the run${owner === undefined ? '' : `: pid ${owner.pid} on ${owner.host}`}; it continues there).`)}\n`);
        return 0;
      }
    }
    const { module } = await openStoredRun(store, runId, cwd, options['flow-file'], options.store);
    const handle = pausedHandle(module, store, runId);
    try {
      await handle.ready();
      if (name === 'resume-task') handle.resumeTask(taskKey, payload);
      else handle.sendEvent(taskKey, payload);
      await handle.persisted();
    } finally {
      await handle.shutdown({ graceMs: 0 });
    }
  } finally {
    await store.close();
  }
  // (With the id found above: a start of it could name another run by now.)
  return continueRun(name, { ...context, args: { ...args, runId } }, settings);
}

/** `taskmachine resume-task <runId> <taskKey>`: resumes a checkpointed task and continues the run. */
export const resumeTaskCommand = defineCommand({
  name: 'resume-task',
  summary: 'Resume a checkpointed task instance (checkpointed → scheduled) and continue its run',
  description:
    'The task runs again with the data it checkpointed as ctx().resumeData (and --payload, if given,\n' +
    'as ctx().event); its attempt number is unchanged and no retry is used. The rest of the run\n' +
    'continues as with `resume` — or, when another process drives the run, that process resumes the\n' +
    "task and this command returns at once. For a task deferred until an event, use 'send-event'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key, e.g. train or score[3]" },
  ],
  options: resumeTaskOptions,
  examples: ['taskmachine resume-task nightly train', `taskmachine resume-task nightly approve --payload '{"approved":true}'`],
  run: (context) => answerAndContinue('resume-task', context),
});

/** `taskmachine send-event <runId> <taskKey> [--payload <json|@file>]`: the event a deferred task waits for, then the run goes on. */
export const sendEventCommand = defineCommand({
  name: 'send-event',
  summary: 'Send the event a task instance deferred with ctx().defer({ event: true }) waits for, and continue its run',
  description:
    'The instance leaves deferred and runs again (same attempt, no retry used) with the payload as\n' +
    'ctx().event; the rest of the run continues as with `resume` — or, when another process drives\n' +
    'the run, that process applies the event and runs the task, and this command returns at once.\n' +
    "An instance that is not waiting for an event is refused (exit 2); for a checkpointed one, use\n" +
    "'resume-task'.",
  args: [
    { name: 'runId', description: 'The run' },
    { name: 'taskKey', description: "The task instance's key" },
  ],
  options: { ...resumeOptions, payload: { type: 'string', description: 'What the task sees as ctx().event: JSON, or @file.json', valueName: '<json|@file>' } },
  examples: [`taskmachine send-event nightly approve --payload '{"approved":true}'`, 'taskmachine send-event nightly approve --payload @answer.json'],
  run: (context) => answerAndContinue('send-event', context),
});
