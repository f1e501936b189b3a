import { toError, UnstorableValueError } from '../errors.ts';
import type { Flow, TaskArgs, TaskRef } from '../flow/types.ts';
import { format } from 'node:util';
import type { AttemptHost } from '../runtime/attempt/attemptContext.ts';
import { AttemptExecutor, NO_CONTEXT_YET } from '../runtime/attempt/attemptExecutor.ts';
import type { AttemptOutcome } from '../runtime/attempt/attemptOutcome.ts';
import { AttemptRun, TaskInstance } from '../runtime/instances/taskInstance.ts';
import { DecoratorPipeline } from '../runtime/attempt/decoratorPipeline.ts';
import { KeptValues } from '../runtime/values/keptValues.ts';
import { NO_UPSTREAM } from '../runtime/scheduling/dependencyTracker.ts';
import { frozen } from '../frozen.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import { MissingResultError, StoredValues } from './storedValues.ts';
import type { AttemptJobData, AttemptPayload } from '../runtime/remote/attemptQueue.ts';
import type { WorkerLogLine } from '../runtime/remote/attemptLogs.ts';
import { TaskLogCollector } from '../runtime/subscribers/taskLogs.ts';
import { calledTask } from '../runtime/control/childCalls.ts';
import { serializeValue } from '../stores/serialization.ts';
import type { Caller, WorkerCalls } from './workerCalls.ts';
import type { Slot } from './slots.ts';

/**
 * One attempt running on this worker.
 *
 * @example
 * ```ts
 * const { run, outcome } = await attempts.start(job.data, payload);
 * run.abort(new Error('stop')); // its ctx().signal
 * await outcome;
 * ```
 */
export interface WorkerAttempt {
  readonly run: AttemptRun;
  /** Its outcome, after its decorators had their say (never rejects). */
  readonly outcome: Promise<AttemptOutcome>;
  /** The `ctx().log` lines it logged so far, bounded per attempt like a local run's stored lines. */
  logs(): WorkerLogLine[];
}

const NO_LOGS = (): WorkerLogLine[] => [];

type RemoteParent = <T>(traceparent: string, fn: () => T) => T;
/** Loaded once per process (see `WorkerAttempts.#remoteParent`). */
let remoteParent: Promise<RemoteParent | undefined> | undefined;

/**
 * Runs attempts of one flow's runs on a worker, through the same {@link AttemptExecutor} as a local
 * run: `ctx()`, the abort signal, the decorator pipeline (`beforeAttempt`, `wrap`,
 * `onAttemptSettled`), checkpoints (read and written in the shared store) and the classification
 * of what came back. It applies no transition: the outcome goes back to the driver.
 *
 * @example
 * ```ts
 * const attempts = new WorkerAttempts(etl, store, console.log);
 * const { outcome } = await attempts.start(jobData, payload);
 * ```
 */
export class WorkerAttempts {
  readonly #flow: Flow;
  readonly #store: PostgresStore;
  readonly #log: (line: string) => void;
  /** The `ctx().log` lines of each attempt in flight, for its stored outcome. */
  readonly #lines = new WeakMap<AttemptRun, TaskLogCollector>();
  readonly #values = new KeptValues(true);
  readonly #stored: StoredValues;
  /** Per run: its decorator pipeline and executor (decorators publish per run). */
  readonly #runs = new Map<string, { executor: AttemptExecutor; attempts: number }>();
  readonly #waiting = new Map<AttemptRun, (outcome: AttemptOutcome) => void>();
  /** `ctx().call`s of the attempts (without: refused, as for a `WorkerAttempts` made outside a worker). */
  readonly #calls: WorkerCalls | undefined;
  /** Each attempt's launch and slot, for its calls. */
  readonly #callers = new WeakMap<AttemptRun, Caller>();

  constructor(flow: Flow, store: PostgresStore, log: (line: string) => void, stored: StoredValues = new StoredValues(store), calls?: WorkerCalls) {
    this.#flow = flow;
    this.#store = store;
    this.#stored = stored;
    this.#log = log;
    this.#calls = calls;
  }

  /**
   * Starts an attempt, once the stored values it refers to are read (see {@link StoredValues}).
   * Rejects when they cannot be read (the store is unreachable: the job fails, and the driver
   * sees the attempt lost — an interruption); a referred result that is not stored fails the
   * attempt (`infrastructure`).
   */
  async start(job: AttemptJobData, payload: AttemptPayload, slot?: Slot): Promise<WorkerAttempt> {
    const task = this.#flow.task(job.taskId);
    const key = job.key;
    if (task === undefined) {
      const error = new Error(`task '${job.taskId}' is not in this worker's flow '${this.#flow.id}'`);
      const run = new AttemptRun(new TaskInstance({ key, task: this.#flow.tasks[0]! }), job.attempt);
      return { run, outcome: Promise.resolve({ kind: 'failed', error, failureKind: 'infrastructure', failFast: true }), logs: NO_LOGS };
    }
    let args: TaskArgs;
    try {
      args = await this.#argsOf(job, payload);
    } catch (error) {
      if (!(error instanceof MissingResultError)) throw error;
      const run = new AttemptRun(new TaskInstance({ key, task }), job.attempt);
      return { run, outcome: Promise.resolve({ kind: 'failed', error, failureKind: 'infrastructure', failFast: false }), logs: NO_LOGS };
    }
    const instance = new TaskInstance({
      key,
      task,
      ...(payload.mapIndex === undefined ? {} : { mapIndex: payload.mapIndex, item: args.item }),
      ...(payload.parentKey === undefined ? {} : { parentKey: payload.parentKey }),
      ...(payload.callInput === undefined ? {} : { callInput: payload.callInput }),
    });
    instance.context = { ...instance.context, attempt: job.attempt, maxAttempts: payload.maxAttempts, retries: payload.retries };
    instance.state = 'running';
    // taskCreated runs with an instance's first attempt (the driver holds the instance; this is its best guess).
    instance.created = job.attempt > 1;
    if (payload.resumeData !== undefined) instance.resumeData = payload.resumeData;
    if (payload.eventPayload !== undefined) instance.eventPayload = payload.eventPayload;
    const run = new AttemptRun(instance, job.attempt);
    instance.current = run;
    this.#callers.set(run, { launchId: job.launchId, runId: job.runId, ...(slot === undefined ? {} : { slot }) });
    const entry = this.#entry(job.runId);
    entry.attempts++;
    const outcome = new Promise<AttemptOutcome>((resolve) => this.#waiting.set(run, resolve)).finally(() => {
      entry.attempts--;
      if (entry.attempts === 0) this.#runs.delete(job.runId);
    });
    const traceparent = payload.carried?.['traceparent'];
    const within = traceparent === undefined ? undefined : await this.#remoteParent();
    try {
      if (within === undefined) entry.executor.start(run, args, payload.customContext);
      else within(traceparent!, () => entry.executor.start(run, args, payload.customContext));
    } catch (error) {
      this.#report(run, { kind: 'failed', error: toError(error), failureKind: 'infrastructure', failFast: false });
    }
    return { run, outcome, logs: () => this.#lines.get(run)?.take().map(({ at, line }) => ({ at, line })) ?? [] };
  }

  /** The attempt's arguments as a local run gives them: the referred values read from the store. */
  async #argsOf(job: AttemptJobData, payload: AttemptPayload): Promise<TaskArgs> {
    if (payload.callInput !== undefined || payload.parentKey !== undefined) {
      return { input: payload.callInput, upstream: NO_UPSTREAM as TaskArgs['upstream'], ctx: NO_CONTEXT_YET };
    }
    const [input, upstream] = await Promise.all([
      'stored' in payload.input ? this.#stored.input(job.runId, payload.session) : frozen(payload.input.value),
      payload.upstream.length === 0 ? NO_UPSTREAM : this.#stored.upstream(job.runId, payload.session, payload.upstream),
    ]);
    if (payload.mapIndex === undefined) return { input, upstream: upstream as TaskArgs['upstream'], ctx: NO_CONTEXT_YET };
    const item = payload.itemOf !== undefined ? (upstream[payload.itemOf] as readonly unknown[])[payload.mapIndex] : frozen(payload.item);
    return { input, upstream: upstream as TaskArgs['upstream'], item, mapIndex: payload.mapIndex, ctx: NO_CONTEXT_YET };
  }

  /**
   * `withRemoteParent` of `taskmachine/otel`, loaded on the first job that carries a
   * `traceparent`; `undefined` (said once in the log) where `@opentelemetry/api` is not installed.
   */
  #remoteParent(): Promise<RemoteParent | undefined> {
    return (remoteParent ??= import('../otel/remoteParent.ts').then(
      (loaded) => loaded.withRemoteParent,
      (error: unknown) => {
        this.#log(
          `taskmachine worker: attempts carry a trace context, but OpenTelemetry could not be loaded here (${toError(error).message}): ` +
            "spans of task code on this worker do not join their run's trace. Install @opentelemetry/api (and your SDK) where the workers run.",
        );
        return undefined;
      },
    ));
  }

  /** Ends an attempt the driver gave up on (its signal is aborted with `reason`). */
  abort(run: AttemptRun, reason: Error): void {
    run.abort(reason);
  }

  /**
   * `ctx().call` on a worker: refused here as a local call is (the input cannot be stored, not a
   * task of the flow, the attempt ended), counted as a local call is (the child's key), then asked
   * of the driver, which makes it through the run's own child calls (see `WorkerCalls`).
   */
  #callChild(run: AttemptRun, ref: TaskRef<unknown>, input: unknown, customContext: Readonly<Record<string, string>>): Promise<unknown> {
    const kept = this.#values.keep(input);
    if (!kept.ok) return Promise.reject(new UnstorableValueError(`the input of a ctx().call from '${run.instance.key}'`, kept.error));
    const task = calledTask(this.#flow, ref);
    if (task instanceof TypeError) return Promise.reject(task);
    if (run.settled) return Promise.reject(new Error(`ctx().call('${task.id}'): the calling attempt of '${run.instance.key}' has already ended`));
    const caller = this.#callers.get(run);
    if (this.#calls === undefined || caller === undefined) return Promise.reject(new Error(`ctx().call('${task.id}'): this attempt runs outside a worker (startWorker), which alone can ask the driver`));
    run.callSeq ??= new Map();
    const index = run.callSeq.get(task.id) ?? 0;
    run.callSeq.set(task.id, index + 1);
    return this.#calls.call(caller, run, { taskId: task.id, index, input: serializeValue(kept.value), customContext: JSON.stringify(customContext) });
  }

  #report(run: AttemptRun, outcome: AttemptOutcome): void {
    const resolve = this.#waiting.get(run);
    if (resolve === undefined) return;
    this.#waiting.delete(run);
    resolve(outcome);
  }

  #entry(runId: string): { executor: AttemptExecutor; attempts: number } {
    let entry = this.#runs.get(runId);
    if (entry !== undefined) return entry;
    const log = this.#log;
    const store = this.#store;
    const pipeline = new DecoratorPipeline(this.#flow, runId, log);
    const contextHost: AttemptHost = {
      flowId: this.#flow.id,
      runId,
      log: (run, parts) => {
        const message = format(...parts);
        log(`[${runId} ${run.instance.key}#${run.attempt}] ${message}`);
        let lines = this.#lines.get(run);
        if (lines === undefined) this.#lines.set(run, (lines = new TaskLogCollector()));
        lines.add(run.instance.key, run.instance.task.id, run.attempt, message, Date.now());
      },
      callChild: (run, ref, input, customContext) => this.#callChild(run, ref, input, customContext),
      loadCheckpoint: (run) => (run.checkpointLoad ??= store.loadCheckpoint(runId, run.instance.key).then((stored) => stored?.value)),
      saveCheckpoint: async (run, value) => {
        if (run.settled) return;
        await store.saveCheckpoint({ runId, key: run.instance.key, value, savedAt: Date.now() });
      },
    };
    const executor = new AttemptExecutor(
      {
        report: (run, outcome) => this.#report(run, outcome),
        released: () => {},
        settling: () => {},
        keepResult: (run, value) => this.#values.result(run.instance.key, value),
        wouldRetry: (run, failFast) => !failFast && run.attempt < run.instance.context.maxAttempts,
        requestTurn: () => {},
        log,
      },
      pipeline,
      contextHost,
    );
    entry = { executor, attempts: 0 };
    this.#runs.set(runId, entry);
    return entry;
  }
}
