import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeferSignal, RescheduleSignal } from '../../context/signals.ts';
import { deriveContext, taskContextStorage, type DeferOptions, type TaskCheckpoint, type TaskContext } from '../../context/taskContext.ts';
import { EXECUTOR_KEYS } from '../../decorators/executorContract.ts';
import type { Frozen } from '../../frozen.ts';
import type { TaskKind, TaskRef } from '../../flow/types.ts';
import type { AttemptRun } from '../instances/taskInstance.ts';

const NO_ENV: Readonly<Record<string, string>> = Object.freeze({});

/** What an attempt's context needs from the run that executes it. */
export interface AttemptHost {
  readonly flowId: string;
  readonly runId: string;
  log(run: AttemptRun, parts: unknown[]): void;
  callChild(parent: AttemptRun, task: TaskRef<unknown>, input: unknown, customContext: Readonly<Record<string, string>>): Promise<unknown>;
  loadCheckpoint(run: AttemptRun): Promise<unknown>;
  saveCheckpoint(run: AttemptRun, value: unknown): Promise<void>;
}

/** The {@link TaskContext} of one attempt; immutable, derived copies for `withCustomContext`. */
export class AttemptContext implements TaskContext {
  readonly flowId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly taskKey: string;
  readonly mapIndex: number | undefined;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly hints: Readonly<Record<string, unknown>>;
  readonly customContext: Readonly<Record<string, string>>;
  readonly resumeData: unknown;
  readonly event: unknown;
  readonly #host: AttemptHost;
  readonly #run: AttemptRun;
  // Made on first use: most attempts never log or checkpoint.
  #checkpoint: TaskCheckpoint | undefined;
  #log: ((...parts: unknown[]) => void) | undefined;

  constructor(host: AttemptHost, run: AttemptRun, customContext: Readonly<Record<string, string>>) {
    const instance = run.instance;
    this.#host = host;
    this.#run = run;
    this.flowId = host.flowId;
    this.runId = host.runId;
    this.taskId = instance.task.id;
    this.taskKey = instance.key;
    this.mapIndex = instance.mapIndex;
    this.attempt = run.attempt;
    this.maxAttempts = instance.context.maxAttempts;
    this.hints = instance.task.hints;
    this.customContext = customContext;
    this.resumeData = instance.resumeData;
    this.event = instance.eventPayload;
    Object.freeze(this);
  }

  get checkpoint(): TaskCheckpoint {
    const host = this.#host;
    const run = this.#run;
    return (this.#checkpoint ??= Object.freeze({
      load: () => host.loadCheckpoint(run),
      save: (value: unknown) => host.saveCheckpoint(run, value),
    }));
  }

  get log(): (...parts: unknown[]) => void {
    const host = this.#host;
    const run = this.#run;
    return (this.#log ??= (...parts: unknown[]) => host.log(run, parts));
  }

  get signal(): AbortSignal {
    return this.#run.signal;
  }

  get rawDataPath(): string {
    return join(tmpdir(), 'taskmachine', this.runId, encodeURIComponent(this.taskKey));
  }

  get env(): Readonly<Record<string, string>> {
    const { namespace, key } = EXECUTOR_KEYS.env;
    return (this.#run.instance.task.published.get(namespace)?.get(key) as Readonly<Record<string, string>> | undefined) ?? NO_ENV;
  }

  get idempotencyKey(): string {
    return `${this.runId}:${this.taskKey}`;
  }

  defer(options: DeferOptions): never {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('ctx().defer(options): options must be an object with until, event and/or timeout');
    }
    const until = options.until instanceof Date ? options.until.getTime() : options.until;
    if (until !== undefined && !Number.isFinite(until)) {
      throw new TypeError(`ctx().defer: until must be a Date or epoch ms, got ${String(options.until)}`);
    }
    if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
      throw new TypeError(`ctx().defer: timeout must be a positive number of ms, got ${String(options.timeout)}`);
    }
    const waitForEvent = options.event === true;
    if (until === undefined && !waitForEvent && options.timeout === undefined) {
      throw new TypeError('ctx().defer: give at least one of until, event: true or timeout, or the task would wait forever');
    }
    throw new DeferSignal({ until, waitForEvent, timeout: options.timeout });
  }

  reschedule(delay: number): never {
    if (!(Number.isFinite(delay) && delay >= 0)) {
      throw new TypeError(`ctx().reschedule(delay): delay must be a number of ms ≥ 0, got ${String(delay)}`);
    }
    throw new RescheduleSignal(delay);
  }

  call<TResult, TCallInput>(
    task: TaskRef<TResult, string, TaskKind, TCallInput>,
    ...args: undefined extends TCallInput ? [input?: TCallInput] : [input: TCallInput]
  ): Promise<Frozen<TResult>> {
    const input = args[0];
    // The custom context in force where the call is made (a withCustomContext scope may wrap a
    // call made through a context object captured outside it).
    const current = taskContextStorage.getStore();
    const customContext = current instanceof AttemptContext && current.#run === this.#run ? current.customContext : this.customContext;
    return this.#host.callChild(this.#run, task, input, customContext) as Promise<Frozen<TResult>>;
  }

  /** @internal A copy of this context with more custom context (inner keys win); see `withCustomContext`. */
  [deriveContext](extra: Readonly<Record<string, string>>): AttemptContext {
    return new AttemptContext(this.#host, this.#run, Object.freeze({ ...this.customContext, ...extra }));
  }
}
