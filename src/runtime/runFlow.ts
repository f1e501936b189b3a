import { randomUUID } from 'node:crypto';
import type { ManualTaskInstanceState, TaskInstanceState } from '../../machines/index.ts';
import type { Flow } from '../flow/types.ts';
import { checkListener, globalListenerList } from '../listeners/registry.ts';
import type { Listener } from '../listeners/types.ts';
import type { Store } from '../stores/store.ts';
import { globalGateList, type Gate } from '../gates/defineGate.ts';
import { systemClock, type Clock } from './clock.ts';
import { FlowRunner } from './flowRun.ts';
import type { FlowRunRecord, TaskInstanceChange, TaskInstanceRecord } from './records.ts';

/**
 * Options of {@link runFlow} and {@link startFlow}.
 *
 * @example
 * ```ts
 * await runFlow(etl, { input: { day: '2026-11-22' }, concurrency: 8, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface RunFlowOptions<TInput = any> {
  /**
   * The run's input, passed to every task as `input`.
   * @default undefined
   */
  input?: TInput;
  /**
   * The run's id.
   * @default a random UUID
   */
  runId?: string;
  /**
   * Most attempts running at once. Tasks started with `ctx().call` run inside their caller's slot.
   * @default 16
   */
  concurrency?: number;
  /**
   * Cancels the run when aborted: running attempts are aborted, nothing new starts, and the run
   * fails with reason `cancelled`.
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Custom context (string values) every task sees as `ctx().customContext`.
   * @default {}
   */
  customContext?: Readonly<Record<string, string>>;
  /**
   * Where time and timers come from; inject a test clock for deterministic tests.
   * @default the system clock
   */
  clock?: Clock;
  /**
   * Receives the lines tasks log with `ctx().log` and the runtime's own warnings.
   * @default console.log
   */
  log?: (line: string) => void;
  /**
   * Listeners for this run (besides those registered with `registerListener`).
   * @default []
   */
  listeners?: readonly Listener[];
  /**
   * How long the run waits, when it ends, for listeners to finish their deliveries (ms); a listener
   * still busy after that is logged and no longer waited for.
   * @default 30_000
   */
  listenerTimeout?: number;
  /**
   * Readiness gates for this run (besides those registered with `registerGate`): each starts when
   * a task instance is queued, and the instance starts only when all have resolved.
   * @default []
   */
  gates?: readonly Gate[];
  /**
   * Where the run is made durable (`sqliteStore()` from `taskmachine/stores` for the embedded
   * default). Every scheduler turn is committed as one batch; a run id that exists in the store is
   * continued from its records (finished tasks are not run again).
   * @default undefined (in memory only)
   */
  store?: Store;
  /**
   * Require the run to exist in the store and continue it. Without `input`, the stored input is used.
   * @default false
   */
  resume?: boolean;
  /**
   * What to do when the run id exists in the store with a different input: `'raise'` throws
   * `InputChangedError` before any task or hook runs, `'reuse'` keeps its results (and its first
   * fingerprint), `'reset'` deletes its records and runs everything again.
   * @default 'raise'
   */
  onInputChange?: 'reuse' | 'reset' | 'raise';
  /**
   * The input's fingerprint, instead of the computed hash of the input (two inputs with the same
   * fingerprint count as unchanged).
   * @default a SHA-256 of the serialized input
   */
  fingerprint?: string;
  /**
   * Labels stored with a new run (e.g. who started it); the CLI records the flow file here.
   * @default undefined
   */
  labels?: Readonly<Record<string, string>>;
}

/** @internal Options only the CLI uses. */
export interface InternalRunOptions {
  /** Load the stored run and apply manual changes only: nothing is scheduled or run. */
  readonly paused?: boolean;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'paused',
  'input',
  'runId',
  'concurrency',
  'signal',
  'customContext',
  'clock',
  'log',
  'listeners',
  'listenerTimeout',
  'gates',
  'store',
  'resume',
  'onInputChange',
  'fingerprint',
  'labels',
]);

/**
 * A live flow run: observe it, change task instances by hand, cancel it.
 *
 * @example
 * ```ts
 * const handle = startFlow(etl, { input });
 * handle.subscribe((change) => console.log(change.taskInstance.key, change.state));
 * const run = await handle.done;
 * ```
 */
export interface FlowRunHandle {
  /** The run's id. */
  readonly runId: string;
  /**
   * Resolves with the run record when the run finishes (success or failed). If the run is
   * reopened later (clear or set-state on a finished run), read `done` again for the new outcome.
   */
  readonly done: Promise<FlowRunRecord>;
  /** Resolves when the run finishes or cannot progress without `resumeTask`/`sendEvent`. */
  settled(): Promise<FlowRunRecord>;
  /** The run as it is now. */
  snapshot(): FlowRunRecord;
  /** One task instance as it is now, or `undefined` for an unknown key. */
  taskInstance(taskKey: string): TaskInstanceRecord | undefined;
  /** Sets a task instance's state by hand; a running attempt is aborted and its result discarded. */
  setState(taskKey: string, state: ManualTaskInstanceState): void;
  /** Clears a task instance so it runs again (a running one goes through `restarting`). */
  clear(taskKey: string): void;
  /** Resumes a `checkpointed` task instance now. */
  resumeTask(taskKey: string): void;
  /** Resumes a task instance deferred with `event: true`; `payload` becomes its `ctx().event`. */
  sendEvent(taskKey: string, payload?: unknown): void;
  /** Cancels the run (see `RunFlowOptions.signal`). */
  cancel(reason?: string): void;
  /** Calls `observer` for every task-instance state change; returns an unsubscribe function. */
  subscribe(observer: (change: TaskInstanceChange) => void): () => void;
  /** Counters of the scheduler's work so far, for tests and benchmarks. */
  stats(): FlowRunStats;
  /**
   * Resolves when the run is open: created in its store, or restored from it (at once without a
   * store). Rejects like `done` when it cannot be opened (e.g. `InputChangedError`).
   */
  ready(): Promise<void>;
  /**
   * Resolves once everything the run changed so far is committed to its store (at once without
   * one) and listeners have received every hook call made so far.
   */
  persisted(): Promise<void>;
  /**
   * Graceful shutdown: nothing new starts, running attempts are aborted with reason `'preempt'`
   * (task code may answer with `TaskCheckpointed`), and up to `graceMs` is given to them. Resolves
   * with the run (still `running`) once its state is in the store; resume it later with
   * `runFlow(flow, { store, runId, resume: true })` or `taskmachine resume <runId>`.
   */
  shutdown(options?: { graceMs?: number }): Promise<FlowRunRecord>;
}

/**
 * What the scheduler has done in a run so far.
 *
 * @example
 * ```ts
 * const { turns, triggerEvaluations } = handle.stats();
 * ```
 */
export interface FlowRunStats {
  /** Task instances per state right now (states with none left out). */
  readonly states: Readonly<Partial<Record<TaskInstanceState, number>>>;
  /** Scheduler turns (each admits ready instances and starts attempts). */
  readonly turns: number;
  /** Trigger-rule evaluations: at most tasks + dependency edges, since counters are incremental. */
  readonly triggerEvaluations: number;
  /** Task-instance actors created (finished instances keep a record, not an actor). */
  readonly actorsCreated: number;
}

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
export function startFlow<TInput>(definition: Flow<TInput>, options: RunFlowOptions<TInput> = {}): FlowRunHandle {
  const runner = new FlowRunner(definition, resolveSettings(definition, options));
  const { signal } = options;
  if (signal !== undefined) {
    const onAbort = () => runner.cancel(reasonText(signal.reason));
    if (signal.aborted) queueMicrotask(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      void runner.done.then(() => signal.removeEventListener('abort', onAbort));
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
    clear: (key: string) => runner.clear(key),
    resumeTask: (key: string) => runner.resumeTask(key),
    sendEvent: (key: string, payload?: unknown) => runner.sendEvent(key, payload),
    cancel: (reason?: string) => runner.cancel(reason),
    subscribe: (observer: (change: TaskInstanceChange) => void) => runner.subscribe(observer),
    ready: () => runner.ready(),
    persisted: () => runner.persisted(),
    shutdown: (shutdownOptions?: { graceMs?: number }) => runner.shutdown(shutdownOptions?.graceMs ?? 10_000),
    stats: () =>
      Object.freeze({ states: Object.freeze(runner.stateCounts()), turns: runner.turns, triggerEvaluations: runner.triggerEvaluations, actorsCreated: runner.actorsCreated }),
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
 * ```
 */
export function runFlow<TInput>(definition: Flow<TInput>, options: RunFlowOptions<TInput> = {}): Promise<FlowRunRecord> {
  try {
    return startFlow(definition, options).settled();
  } catch (error) {
    return Promise.reject(error);
  }
}

function resolveSettings(definition: Flow, options: RunFlowOptions) {
  if (definition === null || typeof definition !== 'object' || !Array.isArray(definition.tasks)) {
    throw new TypeError('runFlow(flow, options): the first argument must be a flow made with flow(id, build)');
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`runFlow options must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(`runFlow: unknown option '${key}'; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const concurrency = options.concurrency ?? 16;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new TypeError(`runFlow: concurrency must be a whole number ≥ 1, got ${String(options.concurrency)}`);
  }
  const runId = options.runId ?? randomUUID();
  if (typeof runId !== 'string' || runId.length === 0) {
    throw new TypeError(`runFlow: runId must be a non-empty string, got ${String(options.runId)}`);
  }
  const customContext = options.customContext ?? {};
  for (const [key, value] of Object.entries(customContext)) {
    if (typeof value !== 'string') {
      throw new TypeError(`runFlow: customContext values must be strings; '${key}' is ${typeof value} (convert it with String())`);
    }
  }
  const listeners = [...globalListenerList()];
  for (const [index, listener] of (options.listeners ?? []).entries()) {
    checkListener(listener, `runFlow: listeners[${index}]`);
    if (!listeners.includes(listener)) listeners.push(listener);
  }
  const listenerTimeout = options.listenerTimeout ?? 30_000;
  if (!(typeof listenerTimeout === 'number' && listenerTimeout >= 0)) {
    throw new TypeError(`runFlow: listenerTimeout must be a number of ms ≥ 0, got ${String(options.listenerTimeout)}`);
  }
  const gates = [...globalGateList()];
  for (const [index, gate] of (options.gates ?? []).entries()) {
    if (gate === null || typeof gate !== 'object' || typeof gate.prepare !== 'function' || typeof gate.name !== 'string') {
      throw new TypeError(`runFlow: gates[${index}] is not a gate; make one with defineGate({ name, prepare })`);
    }
    if (!gates.includes(gate)) gates.push(gate);
  }
  const gateNames = gates.map((gate) => gate.name);
  const duplicate = gateNames.find((name, index) => gateNames.indexOf(name) !== index);
  if (duplicate !== undefined) throw new TypeError(`runFlow: two gates are named '${duplicate}'; gate names must be unique`);
  const onInputChange = options.onInputChange ?? 'raise';
  if (onInputChange !== 'reuse' && onInputChange !== 'reset' && onInputChange !== 'raise') {
    throw new TypeError(`runFlow: onInputChange must be 'reuse', 'reset' or 'raise', got ${JSON.stringify(options.onInputChange)}`);
  }
  const store = options.store;
  if (store !== undefined && (store === null || typeof store.commit !== 'function' || typeof store.loadRun !== 'function')) {
    throw new TypeError('runFlow: store must be a Store, e.g. sqliteStore() or memoryStore() from taskmachine/stores');
  }
  if (options.resume === true && store === undefined) {
    throw new TypeError('runFlow: resume: true needs a store to resume from (pass store: sqliteStore())');
  }
  if (options.fingerprint !== undefined && (typeof options.fingerprint !== 'string' || options.fingerprint === '')) {
    throw new TypeError('runFlow: fingerprint must be a non-empty string');
  }
  if (options.runId === undefined && store !== undefined && options.resume === true) {
    throw new TypeError('runFlow: resume: true needs the runId of the run to resume');
  }
  return {
    store,
    resume: options.resume === true,
    onInputChange,
    fingerprint: options.fingerprint,
    inputGiven: options.input !== undefined,
    labels: options.labels,
    paused: (options as InternalRunOptions).paused === true,
    gates: Object.freeze(gates),
    listeners,
    listenerTimeout,
    runId,
    input: options.input,
    concurrency,
    clock: options.clock ?? systemClock,
    customContext: Object.freeze({ ...customContext }),
    log: options.log ?? ((line: string) => console.log(line)),
  };
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return `the run was cancelled: ${reason.message}`;
  if (reason === undefined) return 'the run was cancelled';
  return `the run was cancelled: ${String(reason)}`;
}
