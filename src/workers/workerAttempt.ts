import { toError } from '../errors.ts';
import type { Flow, TaskArgs } from '../flow/types.ts';
import { format } from 'node:util';
import type { AttemptHost } from '../runtime/attempt/attemptContext.ts';
import { AttemptExecutor, NO_CONTEXT_YET } from '../runtime/attempt/attemptExecutor.ts';
import type { AttemptOutcome } from '../runtime/attempt/attemptOutcome.ts';
import { AttemptRun } from '../runtime/attempt/attemptRun.ts';
import { DecoratorPipeline } from '../runtime/attempt/decoratorPipeline.ts';
import { TaskInstance } from '../runtime/instances/taskInstance.ts';
import { KeptValues } from '../runtime/values/keptValues.ts';
import type { Store } from '../stores/index.ts';
import type { AttemptJobData, AttemptPayload } from './attemptQueue.ts';

/**
 * One attempt running on this worker.
 *
 * @example
 * ```ts
 * const { run, outcome } = attempts.start(job.data, payload);
 * run.abort(new Error('stop')); // its ctx().signal
 * await outcome;
 * ```
 */
export interface WorkerAttempt {
  readonly run: AttemptRun;
  /** Its outcome, after its decorators had their say (never rejects). */
  readonly outcome: Promise<AttemptOutcome>;
}

/**
 * Runs attempts of one flow's runs on a worker, through the same {@link AttemptExecutor} as a local
 * run: `ctx()`, the abort signal, the decorator pipeline (`beforeAttempt`, `wrap`,
 * `onAttemptSettled`), checkpoints (read and written in the shared store) and the classification
 * of what came back. It applies no transition: the outcome goes back to the driver.
 *
 * @example
 * ```ts
 * const attempts = new WorkerAttempts(etl, store, console.log);
 * const { outcome } = attempts.start(jobData, payload);
 * ```
 */
export class WorkerAttempts {
  readonly #flow: Flow;
  readonly #store: Store;
  readonly #log: (line: string) => void;
  readonly #values = new KeptValues(true);
  /** Per run: its decorator pipeline and executor (decorators publish per run). */
  readonly #runs = new Map<string, { executor: AttemptExecutor; attempts: number }>();
  readonly #waiting = new Map<AttemptRun, (outcome: AttemptOutcome) => void>();

  constructor(flow: Flow, store: Store, log: (line: string) => void) {
    this.#flow = flow;
    this.#store = store;
    this.#log = log;
  }

  start(job: AttemptJobData, payload: AttemptPayload): WorkerAttempt {
    const task = this.#flow.task(job.taskId);
    const key = job.key;
    if (task === undefined) {
      const error = new Error(`task '${job.taskId}' is not in this worker's flow '${this.#flow.id}'`);
      const run = new AttemptRun(new TaskInstance({ key, task: this.#flow.tasks[0]! }), job.attempt);
      return { run, outcome: Promise.resolve({ kind: 'failed', error, failureKind: 'infrastructure', failFast: true }) };
    }
    const instance = new TaskInstance({
      key,
      task,
      ...(payload.mapIndex === undefined ? {} : { mapIndex: payload.mapIndex }),
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
    const entry = this.#entry(job.runId);
    entry.attempts++;
    const outcome = new Promise<AttemptOutcome>((resolve) => this.#waiting.set(run, resolve)).finally(() => {
      entry.attempts--;
      if (entry.attempts === 0) this.#runs.delete(job.runId);
    });
    const args: TaskArgs =
      payload.callInput !== undefined || payload.parentKey !== undefined
        ? { input: payload.callInput, upstream: payload.upstream as TaskArgs['upstream'], ctx: NO_CONTEXT_YET }
        : payload.mapIndex === undefined
          ? { input: payload.input, upstream: payload.upstream as TaskArgs['upstream'], ctx: NO_CONTEXT_YET }
          : { input: payload.input, upstream: payload.upstream as TaskArgs['upstream'], item: payload.item, mapIndex: payload.mapIndex, ctx: NO_CONTEXT_YET };
    try {
      entry.executor.start(run, args, payload.customContext);
    } catch (error) {
      this.#report(run, { kind: 'failed', error: toError(error), failureKind: 'infrastructure', failFast: false });
    }
    return { run, outcome };
  }

  /** Ends an attempt the driver gave up on (its signal is aborted with `reason`). */
  abort(run: AttemptRun, reason: Error): void {
    run.abort(reason);
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
      log: (run, parts) => log(`[${runId} ${run.instance.key}#${run.attempt}] ${format(...parts)}`),
      callChild: () =>
        Promise.reject(new Error("ctx().call is not available in attempts on workers yet: run this flow with executor 'local'")),
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
