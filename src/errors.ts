// Every error class taskmachine throws at its users, in one file: it is what they import to test
// `instanceof` and read fields from, each class with its TSDoc and example (that is the length:
// about 20 small classes). Store errors are in stores/errors.ts, the testing helpers' in testing/.
import { hostname } from 'node:os';
import { types } from 'node:util';
/**
 * Thrown when an event is not legal in the state a task instance (or flow run) is in. Nothing
 * changed: the instance stays where it was.
 *
 * @example
 * ```ts
 * import { IllegalTransitionError } from 'taskmachine';
 * try {
 *   handle.setState('extract', 'success');
 * } catch (error) {
 *   if (error instanceof IllegalTransitionError) console.log(error.legalEvents);
 * }
 * ```
 */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  /** What the event was sent to, e.g. `task instance 'extract'` or `flow run`. */
  readonly subject: string;
  /** The state the subject was (and still is) in. */
  readonly state: string;
  /** The rejected event's type. */
  readonly event: string;
  /** Event types that are legal in `state`. */
  readonly legalEvents: readonly string[];

  constructor(options: {
    subject: string;
    state: string;
    event: string;
    legalEvents: readonly string[];
    detail?: string;
  }) {
    const legal = options.legalEvents.length ? options.legalEvents.join(', ') : '(none)';
    super(
      `${options.subject}: event ${options.event} is not legal in state '${options.state}'` +
        (options.detail ? ` (${options.detail})` : '') +
        `. Legal events there: ${legal}. Nothing was changed.`,
    );
    this.subject = options.subject;
    this.state = options.state;
    this.event = options.event;
    this.legalEvents = options.legalEvents;
  }
}

/**
 * One problem found in a flow definition.
 *
 * @example
 * ```ts
 * import { flow, FlowDefinitionError, type FlowDefinitionProblem } from 'taskmachine';
 * const format = ({ taskId, message }: FlowDefinitionProblem) => `${taskId ?? '(flow)'}: ${message}`;
 * try {
 *   flow('etl', build);
 * } catch (error) {
 *   if (error instanceof FlowDefinitionError) console.error(error.problems.map(format).join('\n'));
 * }
 * ```
 */
export interface FlowDefinitionProblem {
  /** The task the problem is about, when there is one. */
  taskId?: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * Thrown by `flow()` when the definition is invalid. Every problem is found in one pass and listed
 * together; nothing runs and nothing is written.
 *
 * @example
 * ```ts
 * import { flow, FlowDefinitionError } from 'taskmachine';
 * try {
 *   flow('bad', (f) => { f.task('a', () => 1, { retries: -1 }); });
 * } catch (error) {
 *   if (error instanceof FlowDefinitionError) console.log(error.problems);
 * }
 * ```
 */
export class FlowDefinitionError extends Error {
  override name = 'FlowDefinitionError';
  /** The flow whose definition is invalid. */
  readonly flowId: string;
  /** Every problem found. */
  readonly problems: readonly FlowDefinitionProblem[];

  constructor(flowId: string, problems: readonly FlowDefinitionProblem[]) {
    const lines = problems.map(
      (problem) => `  - ${problem.taskId === undefined ? '' : `task '${problem.taskId}': `}${problem.message}`,
    );
    super(
      `flow '${flowId}' has ${problems.length} definition problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    );
    this.flowId = flowId;
    this.problems = problems;
  }
}

/**
 * Base class of the control-flow errors task code may throw ({@link SkipTask}, {@link FailTask},
 * {@link TaskCheckpointed}). A readiness gate that throws one keeps its identity.
 *
 * @example
 * ```ts
 * import { TaskError } from 'taskmachine';
 * f.task('sync', async ({ ctx }) => {
 *   try { await syncAll(ctx.signal); } catch (error) {
 *     if (error instanceof TaskError) throw error; // SkipTask, FailTask, TaskCheckpointed: let them through
 *     throw new Error('sync failed', { cause: error });
 *   }
 * });
 * ```
 */
export class TaskError extends Error {
  override name = 'TaskError';
}

/**
 * Throw from task code to end the task instance as `skipped`.
 *
 * @example
 * ```ts
 * import { SkipTask } from 'taskmachine';
 * f.task('notify', ({ input }) => {
 *   if (!input.email) throw new SkipTask('no address to notify');
 * });
 * ```
 */
export class SkipTask extends TaskError {
  override name = 'SkipTask';
  constructor(message = 'task skipped itself', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Throw from task code to end the task instance as `failed` at once: no retry is attempted, however
 * many remain.
 *
 * @example
 * ```ts
 * import { FailTask } from 'taskmachine';
 * f.task('load', async () => {
 *   throw new FailTask('credentials rejected; retrying will not help');
 * }, { retries: 5 });
 * ```
 */
export class FailTask extends TaskError {
  override name = 'FailTask';
}

/**
 * The failure of an attempt whose result (or checkpoint data) cannot be stored — a function, a
 * symbol, an object whose getter throws, an own `__proto__` key, … — in a run with a store. The
 * attempt fails without a retry (it would hand over the same value again); the run goes on and
 * trigger rules decide the rest. The message names the task instance and the path of the value.
 *
 * @example
 * ```ts
 * import { UnstorableValueError } from 'taskmachine';
 * const run = await runFlow(definition, { store });
 * const error = run.tasks['load']?.error;
 * if (error instanceof UnstorableValueError) console.log(error.path); // '$.cb'
 * ```
 */
export class UnstorableValueError extends FailTask {
  override name = 'UnstorableValueError';
  /** Where in the value the problem is (`$` is the value itself). */
  readonly path: string;
  /** The problem in a few words (`a function cannot be stored`). */
  readonly problem: string;

  constructor(subject: string, problem: { readonly path: string; readonly problem: string; readonly fix?: string }) {
    super(
      `${subject} cannot be stored: ${problem.path}: ${problem.problem}. ` +
        (problem.fix ??
          'A run with a store keeps values as plain data, arrays, Date, Map, Set, BigInt, RegExp, URL, typed arrays, Buffer, Error and undefined; hand over data instead.') +
        ' The attempt failed without a retry (it would hand over the same value).',
    );
    this.path = problem.path;
    this.problem = problem.problem;
  }
}

/**
 * Throw from task code to park the task instance in `checkpointed`. It stays unfinished (downstream
 * tasks wait) until it is resumed — automatically after the task's `resumeAfter` delay, or by
 * `handle.resumeTask(key)` — and the next run of the task sees `data` as `ctx().resumeData`. The
 * attempt number is unchanged and no retry is consumed.
 *
 * @example
 * ```ts
 * import { TaskCheckpointed } from 'taskmachine';
 * f.task('train', async ({ ctx }) => {
 *   const from = (ctx.resumeData as { epoch: number } | undefined)?.epoch ?? 0;
 *   for (let epoch = from; epoch < 10; epoch++) {
 *     if (ctx.signal.aborted) throw new TaskCheckpointed({ epoch });
 *     await trainEpoch(epoch);
 *   }
 * }, { resumeAfter: 60_000 });
 * ```
 */
export class TaskCheckpointed extends TaskError {
  override name = 'TaskCheckpointed';
  /** What the next run of the task receives as `ctx().resumeData` (`null` when none was given). */
  readonly data: unknown;
  constructor(data: unknown = null, message = 'task checkpointed') {
    super(message);
    this.data = data === undefined ? null : data;
  }
}

/**
 * The error an attempt fails with when it runs longer than the task's `timeout`. It is retryable;
 * the attempt's `ctx().signal` is aborted with it, and whatever the attempt returns later is
 * discarded.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError } from 'taskmachine';
 * const run = await runFlow(etl, { input });
 * const error = run.tasks['extract']?.error;
 * if (error instanceof TaskTimeoutError) console.warn(`extract ran over its ${error.timeoutMs} ms`);
 * ```
 */
export class TaskTimeoutError extends Error {
  override name = 'TaskTimeoutError';
  /** The timeout that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  constructor(taskKey: string, timeoutMs: number) {
    super(`task instance '${taskKey}' timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The error a task fails with when its deferral reached its `timeout` before it was resumed.
 *
 * @example
 * ```ts
 * import { DeferralTimeoutError } from 'taskmachine';
 * f.task('approve', ({ ctx }) => ctx.event ?? ctx.defer({ event: true, timeout: 86_400_000 }));
 * const run = await startFlow(approval, { input }).done;
 * if (run.tasks['approve']?.error instanceof DeferralTimeoutError) console.warn('nobody approved within a day');
 * ```
 */
export class DeferralTimeoutError extends Error {
  override name = 'DeferralTimeoutError';
}

/**
 * The reason a run's running attempts are aborted with when the run is cancelled (its `signal`
 * aborted or `handle.cancel()` called). It is also the error of the task instances that were
 * running then (failure kind `infrastructure`).
 *
 * @example
 * ```ts
 * import { RunCancelledError } from 'taskmachine';
 * f.task('export', async ({ ctx }) => {
 *   ctx.signal.addEventListener('abort', () => {
 *     if (ctx.signal.reason instanceof RunCancelledError) void removePartialExport();
 *   });
 *   await exportAll({ signal: ctx.signal });
 * });
 * ```
 */
export class RunCancelledError extends Error {
  override name = 'RunCancelledError';
}

/**
 * Thrown by `await ctx().call(task, input)` when the child task instance ends without success.
 * The child's own error is the `cause`.
 *
 * @example
 * ```ts
 * import { ChildTaskFailedError } from 'taskmachine';
 * f.task('crawl', async ({ ctx }) => {
 *   try {
 *     return await ctx.call(fetchPage, { url: 'https://example.com/' });
 *   } catch (error) {
 *     if (error instanceof ChildTaskFailedError) ctx.log(`${error.taskKey} ended ${error.state}`, error.cause);
 *     throw error;
 *   }
 * });
 * ```
 */
export class ChildTaskFailedError extends Error {
  override name = 'ChildTaskFailedError';
  /** The child task instance's key. */
  readonly taskKey: string;
  /** The state the child ended in. */
  readonly state: string;
  constructor(taskKey: string, state: string, options?: ErrorOptions) {
    super(`child task instance '${taskKey}' ended ${state}`, options);
    this.taskKey = taskKey;
    this.state = state;
  }
}

/**
 * Turns anything thrown into an `Error`, keeping the original as `cause` when it was not one. It
 * never throws: a thrown Proxy, an object whose getters throw, or an Error whose `message` cannot
 * be read becomes a plain `Error` that describes it (and is not kept as `cause`, so nothing later
 * trips over it).
 *
 * @example
 * ```ts
 * import { toError } from 'taskmachine';
 * toError('boom').message; // 'boom'
 * toError({ code: 7 }).message; // 'non-Error value thrown: {"code":7}'
 * ```
 */
export function toError(thrown: unknown): Error {
  if (typeof thrown === 'string') return new Error(thrown, { cause: thrown });
  if (typeof thrown !== 'object' || thrown === null) {
    return new Error(`non-Error value thrown: ${describeValue(thrown)}`, { cause: thrown });
  }
  if (types.isProxy(thrown)) return new Error(`a Proxy was thrown: ${describeValue(thrown)}`);
  try {
    if (thrown instanceof Error) {
      // Read what every consumer reads (logs, listeners, the store): an Error that throws here is replaced.
      void `${thrown.name}${thrown.message}${thrown.stack ?? ''}`;
      return thrown;
    }
    return new Error(`non-Error value thrown: ${describeValue(thrown)}`, { cause: thrown });
  } catch (readError) {
    return new Error(`a value that throws when read was thrown (${describeValue(thrown)}): reading it threw ${describeValue(readError)}`);
  }
}

/** A short description of any value that never throws (for messages about hostile values). */
export function describeValue(value: unknown): string {
  try {
    switch (typeof value) {
      case 'function':
        return `a function${value.name ? ` (${value.name})` : ''}`;
      case 'symbol':
        return String(value);
      case 'bigint':
        return `${value}n`;
      case 'object':
        if (value === null) return 'null';
        if (types.isProxy(value)) return 'a Proxy';
        if (value instanceof Error) return `${value.name}: ${value.message}`;
        return JSON.stringify(value) ?? Object.prototype.toString.call(value);
      default:
        return String(value);
    }
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return 'an unreadable value';
    }
  }
}

/**
 * Marks an error as retryable when a readiness gate throws it (directly or as the `cause` of what
 * it throws): the attempt goes to `up_for_retry` and consumes one of the task's retries.
 *
 * @example
 * ```ts
 * import { RetryableError } from 'taskmachine';
 * throw new RetryableError('object still being restored from cold storage');
 * ```
 */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

/**
 * A readiness gate failed with an error that is not a task error: the original is the `cause`.
 * `failureDetails.kind` is `gate`.
 *
 * @example
 * ```ts
 * import { GateError } from 'taskmachine';
 * const run = await runFlow(etl, { input, gates: [quota] });
 * const error = run.tasks['extract']?.error;
 * if (error instanceof GateError) console.error(`gate '${error.gate}' failed:`, error.cause);
 * ```
 */
export class GateError extends Error {
  override name = 'GateError';
  /** The gate that failed. */
  readonly gate: string;
  constructor(gate: string, cause: unknown) {
    super(`readiness gate '${gate}' failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.gate = gate;
  }
}

/** Whether an error, or any error in its `cause` chain, is a {@link RetryableError}. */
export function isRetryable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    if (current instanceof RetryableError) return true;
  }
  return false;
}

/**
 * Thrown (by `runFlow`, before any task or hook runs) when a run id that exists in the store is run
 * again with a different input and `onInputChange` is `'raise'` (the default). Choose `'reuse'` to
 * keep the finished results, or `'reset'` to start the run over.
 *
 * @example
 * ```ts
 * import { InputChangedError } from 'taskmachine';
 * try {
 *   await runFlow(etl, { store, runId: 'nightly', input: { day: '2026-11-23' } });
 * } catch (error) {
 *   if (error instanceof InputChangedError) console.error(`${error.runId} ran with another input; pass onInputChange`);
 * }
 * ```
 */
export class InputChangedError extends Error {
  override name = 'InputChangedError';
  readonly runId: string;
  readonly storedFingerprint: string;
  readonly fingerprint: string;
  constructor(runId: string, storedFingerprint: string, fingerprint: string) {
    super(
      `run '${runId}' already exists with another input (fingerprint ${storedFingerprint.slice(0, 12)}…, now ${fingerprint.slice(0, 12)}…); ` +
        "pass onInputChange: 'reuse' to keep its results, 'reset' to start it over, or use another runId",
    );
    this.runId = runId;
    this.storedFingerprint = storedFingerprint;
    this.fingerprint = fingerprint;
  }
}

/**
 * Thrown when a stored run (or one of its task instances) was written by a lifecycle machine
 * version this taskmachine cannot open: a newer taskmachine, or an incompatible older one. Nothing
 * was changed in the store.
 *
 * @example
 * ```ts
 * import { MachineVersionError } from 'taskmachine';
 * try {
 *   await runFlow(etl, { store, runId: 'nightly', resume: true });
 * } catch (error) {
 *   if (error instanceof MachineVersionError) console.error(error.storedVersion, error.supportedVersions);
 * }
 * ```
 */
export class MachineVersionError extends Error {
  override name = 'MachineVersionError';
  readonly runId: string;
  /** Which machine's version is wrong. */
  readonly machine: 'flow-run' | 'task-instance';
  /** The version found in the store. */
  readonly storedVersion: string;
  /** The versions this taskmachine opens. */
  readonly supportedVersions: readonly string[];
  constructor(options: {
    runId: string;
    machine: 'flow-run' | 'task-instance';
    storedVersion: string;
    supportedVersions: readonly string[];
    taskKey?: string;
  }) {
    const what = options.taskKey === undefined ? `run '${options.runId}'` : `task instance '${options.taskKey}' of run '${options.runId}'`;
    super(
      `${what} was stored by ${options.machine} machine version ${JSON.stringify(options.storedVersion)}, which this taskmachine ` +
        `cannot open (it opens versions ${options.supportedVersions.join(', ')}). Nothing was changed: open it with the taskmachine ` +
        'that wrote it (a newer one?), or start a new run.',
    );
    this.runId = options.runId;
    this.machine = options.machine;
    this.storedVersion = options.storedVersion;
    this.supportedVersions = options.supportedVersions;
  }
}

/**
 * Thrown when a run is driven by another live process (its lease is held and not expired): the
 * run was not opened and nothing was changed. Wait for it to end, stop that process, or — when it
 * is gone — wait until its lease expires (`expiresAt`) and resume then.
 *
 * @example
 * ```ts
 * import { RunOwnedError } from 'taskmachine';
 * try {
 *   await runFlow(etl, { store, runId: 'nightly', resume: true });
 * } catch (error) {
 *   if (error instanceof RunOwnedError) console.error(`${error.owner.host} pid ${error.owner.pid}`);
 * }
 * ```
 */
export class RunOwnedError extends Error {
  override name = 'RunOwnedError';
  readonly runId: string;
  /** The owner: host, pid and owner id. */
  readonly owner: { readonly ownerId: string; readonly host: string; readonly pid: number };
  /** Its last heartbeat (epoch ms). */
  readonly heartbeatAt: number;
  /** When its lease expires unless renewed (epoch ms). */
  readonly expiresAt: number;
  constructor(options: {
    runId: string;
    owner: { readonly ownerId: string; readonly host: string; readonly pid: number };
    heartbeatAt: number;
    expiresAt: number;
    now: number;
  }) {
    const { runId, owner, heartbeatAt, expiresAt, now } = options;
    const seconds = (ms: number) => `${Math.max(0, Math.round(ms / 100) / 10)} s`;
    // (Two handles of one process may hold runs: the one that refused is not "another process".)
    const thisProcess = owner.pid === process.pid && owner.host === hostname();
    super(
      thisProcess
        ? `run '${runId}' is driven by another run handle of this process (owner ${owner.ownerId.slice(0, 8)}), last seen ` +
            `${seconds(now - heartbeatAt)} ago. Nothing was changed. Wait for that run to finish (its \`done\`), or shut it down first.`
        : `run '${runId}' is driven by another process: pid ${owner.pid} on ${owner.host} (owner ${owner.ownerId.slice(0, 8)}), ` +
            `last seen ${seconds(now - heartbeatAt)} ago; its lease expires in ${seconds(expiresAt - now)} unless renewed. ` +
            'Nothing was changed. Wait for that process to finish, stop it (Ctrl-C lets it go within its grace period), or, if it is gone, ' +
            'resume the run once its lease has expired.',
    );
    this.runId = runId;
    this.owner = owner;
    this.heartbeatAt = heartbeatAt;
    this.expiresAt = expiresAt;
  }
}

/**
 * Thrown when a run that must exist is not in the store (`resume: true`, the CLI's commands on a
 * stored run). Nothing was changed.
 *
 * @example
 * ```ts
 * import { RunNotFoundError } from 'taskmachine';
 * try {
 *   await runFlow(etl, { store, runId: 'nightly', resume: true });
 * } catch (error) {
 *   if (error instanceof RunNotFoundError) console.error(error.message);
 * }
 * ```
 */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
  readonly runId: string;
  constructor(runId: string, detail = "start it without resume: true, or check the run id ('taskmachine status' lists the runs)") {
    super(`there is no run '${runId}' in the store; ${detail}`);
    this.runId = runId;
  }
}

/**
 * Thrown when a run id in the store belongs to another flow than the one given. Nothing was
 * changed.
 *
 * @example
 * ```ts
 * import { FlowMismatchError } from 'taskmachine';
 * const error = new FlowMismatchError('nightly', 'etl', 'report');
 * error.storedFlowId; // 'etl'
 * ```
 */
export class FlowMismatchError extends Error {
  override name = 'FlowMismatchError';
  readonly runId: string;
  /** The flow the stored run belongs to. */
  readonly storedFlowId: string;
  /** The flow it was opened with. */
  readonly flowId: string;
  constructor(runId: string, storedFlowId: string, flowId: string) {
    super(`run '${runId}' in the store belongs to flow '${storedFlowId}', not '${flowId}'; use another run id, or open it with flow '${storedFlowId}'`);
    this.runId = runId;
    this.storedFlowId = storedFlowId;
    this.flowId = flowId;
  }
}

/**
 * Thrown by a manual change (`setState`, `clear`, `resumeTask`, `sendEvent`) that names a task
 * instance the run does not have. Nothing was changed.
 *
 * @example
 * ```ts
 * import { TaskInstanceNotFoundError } from 'taskmachine';
 * try { handle.clear('lod'); } catch (error) {
 *   if (error instanceof TaskInstanceNotFoundError) console.error(error.message); // … did you mean 'load'?
 * }
 * ```
 */
export class TaskInstanceNotFoundError extends Error {
  override name = 'TaskInstanceNotFoundError';
  readonly runId: string;
  readonly key: string;
  constructor(runId: string, key: string, knownKeys: readonly string[], suggestion?: string) {
    const known = knownKeys.slice(0, 20).join(', ') + (knownKeys.length > 20 ? `, … (${knownKeys.length} in all)` : '');
    super(
      `run '${runId}' has no task instance '${key}'` +
        (suggestion !== undefined ? `; did you mean '${suggestion}'?` : '.') +
        ` Known keys: ${known}. Mapped instances are keyed id[index], called ones parent/id#n.`,
    );
    this.runId = runId;
    this.key = key;
  }
}
