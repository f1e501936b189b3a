import type { ManualTaskInstanceState } from '../../machines/index.ts';
import type { RefsOf } from '../flow/builder.ts';
import type { Flow } from '../flow/types.ts';
import { FlowRun } from './flowRun.ts';
import type { ClearOptions, FlowRunHandle } from './handle.ts';
import type { FlowRunRecord, TaskInstanceChange } from '../records.ts';
import { resolveSettings, shown, type InternalRunOptions, type RunFlowOptions } from './settings.ts';
import { MAX_TIMER_MS } from '../clock.ts';

export type { InputRequirement, RunFlowBaseOptions, RunFlowOptions } from './settings.ts';
export type { FlowRunHandle, FlowRunStats } from './handle.ts';

/**
 * Starts a flow run and returns its handle at once (the first scheduler turn runs in a microtask,
 * so subscribe before awaiting anything).
 *
 * @example
 * ```ts
 * import { startFlow } from 'taskmachine';
 * const handle = startFlow(etl, { input: { day: '2026-11-22' } });
 * handle.subscribe(({ taskInstance, state }) => console.log(taskInstance.key, state));
 * const run = await handle.done;
 * ```
 */
export function startFlow<TInput, TTasks = unknown>(definition: Flow<TInput, TTasks>, ...args: RunArgs<TInput, TTasks>): FlowRunHandle<RefsOf<TTasks>> {
  return openFlowRun(definition, (args[0] ?? {}) as RunFlowOptions<TInput>) as FlowRunHandle<RefsOf<TTasks>>;
}

/**
 * The options argument of {@link runFlow} and {@link startFlow}: a flow whose input type does not
 * allow `undefined` (`flow('etl', (f: FlowBuilder<{ day: string }>) => …)`) needs its `input` —
 * unless the run is resumed (`resume: true`), which uses the stored one. Without a typed input the
 * options, and `input` in them, are optional.
 *
 * @example
 * ```ts
 * const daily = flow('daily', (f: FlowBuilder<{ day: string }>) => { f.task('a', ({ input }) => input.day); });
 * await runFlow(daily, { input: { day: 'mon' } }); // runFlow(daily) is a type error
 * ```
 */
export type RunArgs<TInput, TTasks> =
  // (A union, not a conditional on the whole: a generic caller passing `RunFlowOptions<T>` matches
  // its first member whatever `T` turns out to be.)
  [options: NoInfer<RunFlowOptions<TInput, RefsOf<TTasks>>>] | (undefined extends TInput ? [] : never);

/**
 * @internal `startFlow` with the options only the CLI uses (`paused`: open a stored run to inspect
 * it or change task instances by hand, running nothing).
 */
export function openFlowRun<TInput>(definition: Flow<TInput>, options: RunFlowOptions<TInput>, internal: InternalRunOptions = {}): FlowRunHandle {
  const runner = new FlowRun(definition, resolveSettings(definition, options, internal));
  const { signal } = options;
  if (signal !== undefined) {
    const onAbort = () => {
      try {
        runner.cancel(reasonText(signal.reason));
      } catch (error) {
        // The run is shutting down or was let go: there is nothing left to cancel here.
        runner.settings.log(`taskmachine: the run's signal was aborted but it could not be cancelled: ${(error as Error).message}`);
      }
    };
    if (signal.aborted) queueMicrotask(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      // (Both ways: a `then` alone would turn a run that stopped on a store error into an
      // unhandled rejection, which ends the embedding process.)
      const forget = () => signal.removeEventListener('abort', onAbort);
      void runner.done.then(forget, forget);
    }
  }
  runner.start();
  return Object.freeze({
    runId: runner.runId,
    get done() {
      return runner.done;
    },
    settled: () => runner.settled(),
    snapshot: () => runner.snapshot(),
    taskInstance: (key: string) => runner.taskInstance(key),
    setState: (key: string, state: ManualTaskInstanceState) => runner.setState(key, state),
    clear: (key: string, options?: ClearOptions) => runner.clear(key, options),
    resumeTask: (key: string, payload?: unknown) => runner.resumeTask(key, payload),
    sendEvent: (key: string, payload?: unknown) => runner.sendEvent(key, payload),
    cancel: (reason?: string) => runner.cancel(reason),
    subscribe: (observer: (change: TaskInstanceChange) => void) => runner.subscribe(observer),
    ready: () => runner.ready(),
    persisted: () => runner.persisted(),
    shutdown: (shutdownOptions?: { readonly graceMs?: number }) => {
      const graceMs = shutdownGrace(shutdownOptions);
      return typeof graceMs === 'number' ? runner.shutdown(graceMs) : Promise.reject(graceMs);
    },
    stats: () => runner.stats(),
  });
}

/**
 * Runs a flow and resolves to its run record: the run's state (`success` or `failed`, with the
 * reason) and each task instance's state, attempts, result and error. If the remaining tasks all
 * wait for a manual resume or an event, it resolves with state `running` and `waitingOn` listing
 * them (use {@link startFlow} to resume them).
 *
 * @example
 * ```ts
 * import { runFlow } from 'taskmachine';
 * const run = await runFlow(etl, { input: { day: '2026-11-22' }, concurrency: 8 });
 * run.state;                // 'success' | 'failed'
 * run.tasks['extract'];     // { state, attempts, result, error, startedAt, endedAt, … }
 * run.result(extract);      // extract's result, typed from its reference (undefined unless it succeeded)
 * ```
 */
export function runFlow<TInput, TTasks = unknown>(definition: Flow<TInput, TTasks>, ...args: RunArgs<TInput, TTasks>): Promise<FlowRunRecord<RefsOf<TTasks>>> {
  try {
    return startFlow(definition, ...args).settled();
  } catch (error) {
    return Promise.reject(error);
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return `the run was cancelled: ${reason.message}`;
  if (reason === undefined) return 'the run was cancelled';
  return `the run was cancelled: ${String(reason)}`;
}

/** `shutdown`'s grace period (10 s by default), or the `TypeError` that refuses its options. */
function shutdownGrace(options: unknown): number | TypeError {
  if (options === undefined) return 10_000;
  if (typeof options !== 'object' || options === null) return new TypeError(`shutdown: options must be an object such as { graceMs: 5000 }, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'graceMs') return new TypeError(`shutdown: unknown option '${key}'; the one option is graceMs (ms running attempts get to end)`);
  }
  const { graceMs } = options as { graceMs?: unknown };
  if (graceMs === undefined) return 10_000;
  // (Past 2^31 − 1 ms a Node timer fires after 1 ms: no grace at all.)
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0 || graceMs > MAX_TIMER_MS) {
    return new TypeError(`shutdown: graceMs must be a number of ms from 0 to ${MAX_TIMER_MS} (about 24.8 days), got ${shown(graceMs)}`);
  }
  return graceMs;
}
