import { randomUUID } from 'node:crypto';
import { DEFAULT_MAX_INTERRUPTIONS } from '../../machines/index.ts';
import type { Flow } from '../flow/types.ts';
import { globalGateList, type Gate } from '../gates/defineGate.ts';
import { checkListener, globalListenerList } from '../listeners/registry.ts';
import type { Listener } from '../listeners/types.ts';
import type { Store } from '../stores/store.ts';
import { MAX_TIMER_MS, systemClock, type Clock } from '../clock.ts';

/**
 * Options of {@link runFlow} and {@link startFlow}.
 *
 * @example
 * ```ts
 * await runFlow(etl, { input: { day: '2026-11-22' }, concurrency: 8, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export type RunFlowOptions<TInput = any, TTasks = unknown> = RunFlowBaseOptions<TInput, TTasks> & InputRequirement<TInput>;

/**
 * What a flow's input type asks of the options: nothing when it allows `undefined` (an untyped
 * flow's `any` included); otherwise `input` — or `resume: true`, which uses the stored input.
 *
 * @example
 * ```ts
 * const options: RunFlowOptions<{ day: string }> = { input: { day: 'mon' } }; // {} is a type error
 * ```
 */
export type InputRequirement<TInput> = undefined extends TInput ? unknown : { resume: true } | { input: TInput };

/**
 * Every option of {@link runFlow} and {@link startFlow}; {@link RunFlowOptions} adds what the
 * flow's input type requires.
 *
 * @example
 * ```ts
 * const options: RunFlowBaseOptions = { concurrency: 8, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface RunFlowBaseOptions<TInput = any, TTasks = unknown> {
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
  listeners?: readonly Listener<TTasks>[];
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
  /**
   * Interrupted attempts (the process running them crashed, was killed or was shut down) a task
   * instance runs again after, without using a retry, for tasks that do not set their own; one more
   * interruption fails the instance with failure kind `interrupted`.
   * @default 3
   */
  maxInterruptions?: number;
  /**
   * With a store: how long this process's lease on the run lives without a heartbeat (ms). While it
   * is live no other process can drive the run (`RunOwnedError`); once it has expired (the process
   * crashed, was killed or stopped) another may take the run over. Heartbeats go three times per
   * lease time.
   * @default 30_000
   */
  leaseTtl?: number;
  /**
   * Where attempts run. `'local'`: in this process. `'workers'`: on `taskmachine worker` processes
   * sharing the run's PostgreSQL store (needs `postgresStore`): this process stays the run's driver
   * (trigger rules, gates, timers, retries, the lifecycle) and hands each attempt to a worker
   * through a pg-boss job enqueued in the transaction that stores the attempt's start. See
   * docs/scale-out.md.
   *
   * @example
   * ```ts
   * const store = await postgresStore({ connectionString: process.env.DATABASE_URL });
   * await runFlow(etl, { store, executor: 'workers', input });
   * ```
   * @default 'local'
   */
  executor?: 'local' | 'workers';
}

/** Settings a run was started with, validated and with the defaults applied. */
export interface FlowRunSettings {
  readonly runId: string;
  readonly input: unknown;
  readonly concurrency: number;
  readonly clock: Clock;
  readonly customContext: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
  readonly listeners: readonly Listener[];
  readonly listenerTimeout: number;
  readonly gates: readonly Gate[];
  /** Where the run is made durable; `undefined` keeps it in memory only. */
  readonly store: Store | undefined;
  /** The run must exist in the store (resume it). */
  readonly resume: boolean;
  readonly onInputChange: 'reuse' | 'reset' | 'raise';
  /** Overrides the computed input fingerprint. */
  readonly fingerprint: string | undefined;
  /** Whether `input` was given (a resume without it uses the stored input). */
  readonly inputGiven: boolean;
  /** Free-form labels stored with a new run (the CLI records the flow file). */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** Open the stored run for inspection and manual changes only: nothing is scheduled or run. */
  readonly paused: boolean;
  /** The run's default `maxInterruptions`. */
  readonly maxInterruptions: number;
  /** The lease's time to live, with a store (ms). */
  readonly leaseTtl: number;
  /** Where attempts run. */
  readonly executor: 'local' | 'workers';
}

/**
 * @internal How a run is opened, beyond the public options: only the CLI uses this (through
 * `openFlowRun`), never `runFlow` callers.
 */
export interface InternalRunOptions {
  /** Open the stored run for inspection and manual changes only: nothing is scheduled or run. */
  readonly paused?: boolean;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
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
  'maxInterruptions',
  'leaseTtl',
  'executor',
]);

/** Validates `runFlow` options (every problem named with its fix) and applies the defaults. */
export function resolveSettings(definition: Flow, options: RunFlowOptions, internal: InternalRunOptions = {}): FlowRunSettings {
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
    throw new TypeError(`runFlow: concurrency must be a whole number ≥ 1, got ${shown(options.concurrency)}`);
  }
  const runId = options.runId ?? randomUUID();
  if (typeof runId !== 'string' || runId.length === 0) {
    throw new TypeError(`runFlow: runId must be a non-empty string, got ${shown(options.runId)}`);
  }
  const customContext = options.customContext ?? {};
  for (const [key, value] of Object.entries(customContext)) {
    if (typeof value !== 'string') {
      throw new TypeError(`runFlow: customContext values must be strings; '${key}' is ${typeof value} (convert it with String())`);
    }
  }
  for (const list of ['listeners', 'gates'] as const) {
    const value: unknown = options[list];
    if (value !== undefined && !Array.isArray(value)) {
      throw new TypeError(`runFlow: ${list} must be an array, e.g. ${list}: [${list === 'listeners' ? 'openTelemetry()' : 'warehouseOpen'}]; got ${shown(value)}`);
    }
  }
  const listeners = [...globalListenerList()];
  for (const [index, listener] of (options.listeners ?? []).entries()) {
    checkListener(listener, `runFlow: listeners[${index}]`);
    if (!listeners.includes(listener)) listeners.push(listener);
  }
  const listenerTimeout = options.listenerTimeout ?? 30_000;
  if (!(typeof listenerTimeout === 'number' && listenerTimeout >= 0)) {
    throw new TypeError(`runFlow: listenerTimeout must be a number of ms ≥ 0, got ${shown(options.listenerTimeout)}`);
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
  if (store !== undefined && (typeof store.acquireLease !== 'function' || typeof store.pendingControls !== 'function')) {
    throw new TypeError(
      'runFlow: this store has no run leases (acquireLease, renewLease, releaseLease, getLease) or control requests: it implements an older Store interface. Update it, or use sqliteStore() / memoryStore().',
    );
  }
  if (options.resume === true && store === undefined) {
    throw new TypeError('runFlow: resume: true needs a store to resume from (pass store: sqliteStore())');
  }
  if (options.fingerprint !== undefined && (typeof options.fingerprint !== 'string' || options.fingerprint === '')) {
    throw new TypeError('runFlow: fingerprint must be a non-empty string');
  }
  const maxInterruptions = options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS;
  if (!(Number.isInteger(maxInterruptions) && maxInterruptions >= 0)) {
    throw new TypeError(`runFlow: maxInterruptions must be a whole number ≥ 0, got ${shown(options.maxInterruptions)}`);
  }
  const leaseTtl = options.leaseTtl ?? 30_000;
  // (Past 2^31 − 1 ms a Node timer fires after 1 ms: the heartbeat would spin.)
  if (!(Number.isFinite(leaseTtl) && leaseTtl >= 100 && leaseTtl <= MAX_TIMER_MS)) {
    throw new TypeError(`runFlow: leaseTtl must be a number of ms from 100 to 2147483647 (about 24.8 days), got ${shown(options.leaseTtl)}`);
  }
  const executor = options.executor ?? 'local';
  if (executor !== 'local' && executor !== 'workers') {
    throw new TypeError(`runFlow: executor must be 'local' or 'workers', got ${JSON.stringify(options.executor)}`);
  }
  if (executor === 'workers' && !isPostgresStore(store)) {
    throw new TypeError(
      "runFlow: executor 'workers' needs the PostgreSQL store the workers share (store: await postgresStore({ connectionString })); " +
        `got ${store === undefined ? 'no store' : 'another store'}. Use executor 'local' to run attempts in this process.`,
    );
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
    // A run driven with attempts on workers says so: workers adopt only such runs.
    // Its concurrency too: a worker that adopts the run drives it with the same.
    labels: executor === 'workers' ? { ...options.labels, [EXECUTOR_LABEL]: 'workers', [CONCURRENCY_LABEL]: String(concurrency) } : options.labels,
    paused: internal.paused === true,
    maxInterruptions,
    leaseTtl,
    executor,
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


/** Whether `store` is a `postgresStore` (what `executor: 'workers'` needs). */
function isPostgresStore(store: Store | undefined): boolean {
  const candidate = store as { pool?: unknown; schema?: unknown; server?: unknown } | undefined;
  return candidate !== undefined && typeof candidate.schema === 'string' && typeof candidate.server === 'string' && candidate.pool !== undefined;
}

/**
 * The label a run started with `executor: 'workers'` carries (workers adopt only such runs).
 *
 * @example
 * ```ts
 * (await store.getRun(runId))?.labels?.[EXECUTOR_LABEL]; // 'workers'
 * ```
 */
export const EXECUTOR_LABEL = 'taskmachine/executor';

/**
 * The label that records the `concurrency` of a run driven with `executor: 'workers'`, so a worker
 * that adopts the run drives it with the same.
 *
 * @example
 * ```ts
 * (await store.getRun(runId))?.labels?.[CONCURRENCY_LABEL]; // '256'
 * ```
 */
export const CONCURRENCY_LABEL = 'taskmachine/concurrency';

/** A wrong option's value as an error shows it: a string quoted (`"4"`, not `4`), an object as one. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
