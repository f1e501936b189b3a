import { format, isDeepStrictEqual } from 'node:util';
import { createActor, type Actor } from 'xstate';
import {
  failedStates,
  finishedStates,
  FLOW_RUN_MACHINE_VERSION,
  flowRunMachine,
  taskInstanceMachine,
  type FlowRunFailureReason,
  type FlowRunMachine,
  type ManualTaskInstanceState,
  type TaskInstanceEvent,
  type TaskInstanceState,
} from '../../machines/index.ts';
import { DeferSignal, RescheduleSignal } from '../context/signals.ts';
import { taskContextStorage } from '../context/taskContext.ts';
import {
  ChildTaskFailedError,
  DeferralTimeoutError,
  InputChangedError,
  FailTask,
  IllegalTransitionError,
  RunCancelledError,
  SkipTask,
  TaskCheckpointed,
  TaskTimeoutError,
  toError,
} from '../errors.ts';
import { countUpstreamOutcome, evaluateTriggerRule } from '../flow/triggerRules.ts';
import { UpstreamCountsTable } from './upstreamCountsTable.ts';
import { graphOf, type FlowGraph } from '../flow/graph.ts';
import { DEFAULT_SETTINGS } from '../flow/compiledTask.ts';
import type { Flow, TaskArgs, TaskDefinition, TaskRef } from '../flow/types.ts';
import type { Decorator, DecoratorEvent } from '../decorators/types.ts';
import type { Gate } from '../gates/defineGate.ts';
import { inputFingerprint, type LoadedRun, type Store, type StoredRun } from '../stores/index.ts';
import { RunPersistence } from './persistence.ts';
import { ListenerDispatcher } from '../listeners/dispatch.ts';
import { emitTaskInstanceHooks } from '../listeners/taskInstanceHooks.ts';
import type { Listener } from '../listeners/types.ts';
import { applyEvent } from './applyEvent.ts';
import { hookContext, runHooks, settleWithHooks, wrapTaskFn } from './decoratorHooks.ts';
import { AttemptContext, type AttemptHost } from './attemptContext.ts';
import type { Clock } from './clock.ts';
import { AttemptRun, TaskInstance } from './instance.ts';
import type {
  FailureKind,
  FlowRunRecord,
  TaskInstanceChange,
  TaskInstanceRecord,
} from './records.ts';
import { retryDelayFor } from './retryTiming.ts';
import { msgFor } from './transitionMsg.ts';
import { startGateRound } from './gateRound.ts';
import { DecoratorActors } from './decoratorActors.ts';
import { taskInstanceLogic } from './memoizedMachine.ts';

/** Settings the run was started with, already validated. */
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
  /** Load the stored run and apply manual changes only: nothing is scheduled or run. */
  readonly paused: boolean;
}

/** Observer of every task-instance change in a run. */
export type ChangeObserver = (change: TaskInstanceChange) => void;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be awaiting `done` when a run cannot start: never an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}


type TimerAction = 'retry' | 'poke' | 'trigger' | 'trigger-timeout' | 'resume';

/**
 * Most attempts a scheduler turn starts before it yields to the event loop (timers, I/O, live
 * views). Counted in work rather than time, so the number of turns is the same on every run.
 */
const TURN_BUDGET_STARTS = 256;
/** `upstream` of a task without upstreams (and of a called child). */
const NO_UPSTREAM: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null));

/**
 * Drives one flow run: owns the flow-run actor and one task-instance actor per unfinished task
 * instance, evaluates trigger rules with incremental counters, runs attempts within the
 * concurrency limit, and applies every lifecycle change through the machines.
 *
 * Work happens in scheduler *turns* (one microtask each): settled attempts, timers and manual
 * requests only record what changed and request a turn; the turn evaluates trigger rules, admits
 * ready instances and starts attempts. Nothing recurses across instances, so a chain of 100k tasks
 * cannot overflow the stack.
 */
export class FlowRunner implements AttemptHost {
  readonly flow: Flow;
  readonly settings: FlowRunSettings;
  readonly flowId: string;
  readonly runId: string;
  readonly runActor: Actor<FlowRunMachine>;
  /** Scheduler turns taken so far. */
  turns = 0;
  /** Trigger-rule evaluations so far (bounded by tasks + edges: counters are incremental). */
  triggerEvaluations = 0;
  /** Task-instance actors created so far. */
  actorsCreated = 0;

  readonly #instances = new Map<string, TaskInstance>();
  /** The single instance of each DAG task (for a mapped task: its placeholder until expanded). */
  readonly #primary: (TaskInstance | undefined)[];
  /** Mapped instances of expanded map tasks, in map-index order. */
  readonly #mapped = new Map<number, TaskInstance[]>();
  /** Upstream counters per task (allocated for tasks that have upstreams). */
  readonly #counts: UpstreamCountsTable;
  /** The flow's task graph: upstream and downstream indices, walked without allocating. */
  readonly #graph: FlowGraph;
  /** Whether each task's trigger rule has decided (run, skipped or upstream_failed). */
  readonly #decided: Uint8Array;
  #toEvaluate: number[] = [];
  #ready: TaskInstance[] = [];
  #readyHead = 0;
  #waitingForSlot: TaskInstance[] = [];
  #slotHead = 0;
  /** Instances (re)entering `scheduled` that must be queued. */
  #toQueue: TaskInstance[] = [];
  #unfinished = 0;
  #running = 0;
  #timers = 0;
  #windowSize: number;
  #turnRequested = false;
  #halted = false;
  #finished = false;
  #startedAt: number | undefined;
  #endedAt: number | undefined;
  #observers: ChangeObserver[] = [];
  /** Task instances per state, kept up to date by every transition. */
  readonly #stateCounts = new Map<TaskInstanceState, number>();
  #done: Deferred<FlowRunRecord> = deferred();
  readonly #dispatcher: ListenerDispatcher | undefined;
  #persist: RunPersistence | undefined;
  /** The input tasks receive (the stored one when a run is resumed without an input). */
  #input: unknown;
  #settledRejecters: Array<(error: Error) => void> = [];
  /** Attempts settled whose decorator hooks are still running. */
  #pendingSettles = 0;
  /** Task instances whose readiness gates are running. */
  #gatesPending = 0;
  /** Decorator actors (decorators with `onTransition`), by task index; made at the first need. */
  #decoratorActors: DecoratorActors | undefined;
  readonly #hasActorDecorators: Uint8Array;
  /** Tasks whose resource request was reported already. */
  readonly #reportedResources = new Set<number>();
  #settledWaiters: Array<(record: FlowRunRecord) => void> = [];

  constructor(flow: Flow, settings: FlowRunSettings) {
    this.flow = flow;
    this.settings = settings;
    this.flowId = flow.id;
    this.runId = settings.runId;
    this.#windowSize = Math.max(32, settings.concurrency * 2);
    const taskCount = flow.tasks.length;
    this.#primary = new Array(taskCount);
    this.#counts = new UpstreamCountsTable(taskCount);
    this.#graph = graphOf(flow);
    this.#decided = new Uint8Array(taskCount);
    this.runActor = createActor(flowRunMachine).start();
    this.#input = settings.input;
    this.#dispatcher = settings.listeners.length > 0 ? new ListenerDispatcher(settings.listeners, settings.log) : undefined;
    this.#hasActorDecorators = new Uint8Array(taskCount);
    for (const task of flow.tasks) {
      if (task.decorators.length > 0) this.#hasActorDecorators[task.index] = 1;
    }
    for (const task of flow.tasks) {
      if (task.kind === 'subtask') continue;
      const instance = new TaskInstance({ key: task.id, task });
      this.#primary[task.index] = instance;
      this.#instances.set(instance.key, instance);
      this.#unfinished++;
      this.#countState('none', 1);
      const upstreams = this.#graph.upstreamCount(task.index);
      if (upstreams > 0) this.#counts.add(task.index, upstreams);
      else this.#toEvaluate.push(task.index);
    }
    for (const task of flow.tasks) {
      if (!task.setup) continue;
      const { down, downStart } = this.#graph;
      for (let k = downStart[task.index]!; k < downStart[task.index + 1]!; k++) this.#counts.at(down[k]!)!.setupTotal++;
    }
  }

  // ————— public control (used by the handle) —————

  get done(): Promise<FlowRunRecord> {
    return this.#done.promise;
  }

  get finished(): boolean {
    return this.#finished;
  }

  start(): void {
    if (this.settings.store !== undefined) {
      this.#opened = this.#startDurable(this.settings.store).then(
        () => {
          this.#loading = false;
        },
        (error: unknown) => {
          this.#loading = false;
          this.#failToStart(toError(error));
          throw error;
        },
      );
      this.#opened.catch(() => {});
      return;
    }
    this.#loading = false;
    this.#begin();
  }

  #loading = true;
  #opened: Promise<void> = Promise.resolve();

  /** Resolves when the run has been opened (created in, or restored from, its store). */
  ready(): Promise<void> {
    return this.#opened;
  }

  /** The run's first steps once it is known what it starts from. */
  #begin(recover: () => void = () => {}): void {
    this.#startedAt ??= this.settings.clock.now();
    applyEvent(this.runActor, { type: 'START' }, 'flow run');
    if (this.#dispatcher !== undefined) {
      const flowRun = this.snapshot();
      this.#dispatcher.emit('onStarting', { flowRun });
      this.#dispatcher.emit('onFlowRunRunning', { flowRun, msg: 'started' });
    }
    recover();
    this.#persist?.updateRun(this.#runFields(), this.settings.clock.now());
    this.#requestTurn();
  }

  /**
   * Opens the run in the store: a new run is created; an existing one is resumed from its records,
   * after `onInputChange` has had its say. Nothing runs and no hook fires before this is decided.
   */
  async #startDurable(store: Store): Promise<void> {
    const { clock } = this.settings;
    let existing = await store.getRun(this.runId);
    const fingerprint = this.settings.fingerprint ?? inputFingerprint(this.settings.input);
    if (existing !== undefined && existing.flowId !== this.flowId) {
      throw new Error(`run '${this.runId}' in the store belongs to flow '${existing.flowId}', not '${this.flowId}'; use another runId`);
    }
    if (existing !== undefined && this.settings.inputGiven && existing.inputFingerprint !== fingerprint) {
      const policy = this.settings.onInputChange;
      if (policy === 'raise') throw new InputChangedError(this.runId, existing.inputFingerprint, fingerprint);
      if (policy === 'reset') {
        await store.deleteRun(this.runId);
        existing = undefined;
      }
    }
    if (existing === undefined && this.settings.resume) {
      throw new Error(`there is no run '${this.runId}' in the store to resume; start it without resume: true`);
    }
    const now = clock.now();
    if (existing === undefined) {
      const run: StoredRun = {
        runId: this.runId,
        flowId: this.flowId,
        inputFingerprint: fingerprint,
        state: 'queued',
        reason: null,
        input: this.settings.input,
        labels: this.settings.labels,
        machineVersion: FLOW_RUN_MACHINE_VERSION,
        createdAt: now,
        updatedAt: now,
        startedAt: undefined,
        endedAt: undefined,
      };
      this.#persist = new RunPersistence(store, run, (error) => this.#onStoreFailure(error));
      this.#persist.updateRun(this.#runFields(), now);
      await this.#persist.flush(now);
      if (this.#persist.failure) throw this.#persist.failure;
      this.#loading = false;
      if (this.settings.paused) return;
      this.#begin();
      return;
    }
    const loaded = await store.loadRun(this.runId);
    if (loaded === undefined) throw new Error(`run '${this.runId}' disappeared from the store while it was being opened`);
    if (!this.settings.inputGiven) this.#input = loaded.run.input;
    this.#persist = new RunPersistence(store, loaded.run, (error) => this.#onStoreFailure(error));
    this.#startedAt = loaded.run.startedAt;
    this.#restore(loaded);
    this.#loading = false;
    if (this.settings.paused) return;
    this.#begin(() => this.#recover());
  }

  /**
   * Rebuilds the run's instances from the store: states, attempts, results (from the result
   * records), errors, timers, parked flags. Finished instances get no actor; unfinished ones get
   * one when they next move (restored from their state and context, not from an XState snapshot).
   */
  #restore(loaded: LoadedRun): void {
    const results = new Map<string, unknown>();
    for (const result of loaded.results) results.set(result.key, result.value);
    const mapped = new Map<number, TaskInstance[]>();
    for (const stored of loaded.instances) {
      const task = this.flow.task(stored.taskId);
      let instance: TaskInstance | undefined;
      if (task === undefined) {
        // A task that left the definition: kept so it can be marked removed.
        instance = new TaskInstance({ key: stored.key, task: removedTask(stored.taskId), mapIndex: stored.mapIndex });
      } else if (stored.parentKey !== undefined) {
        instance = new TaskInstance({
          key: stored.key,
          task: task!,
          parentKey: stored.parentKey,
          callInput: stored.callInput,
          ...(stored.customContext !== undefined ? { customContext: stored.customContext } : {}),
        });
      } else if (stored.mapIndex !== undefined) {
        instance = new TaskInstance({ key: stored.key, task: task!, mapIndex: stored.mapIndex });
        (mapped.get(task!.index) ?? mapped.set(task!.index, []).get(task!.index)!).push(instance);
      } else {
        instance = this.#primary[task!.index];
        if (instance === undefined || instance.key !== stored.key) continue;
      }
      instance.state = stored.state;
      instance.context = {
        attempt: stored.attempt,
        retries: stored.retries,
        maxAttempts: stored.maxAttempts,
        manuallySetFrom: stored.manuallySetFrom,
        deferTimedOut: stored.deferTimedOut,
      };
      if (stored.state === 'success') instance.result = results.get(stored.key);
      else if (results.has(stored.key)) instance.result = results.get(stored.key);
      instance.error = stored.error;
      instance.failureKind = stored.failureKind;
      instance.startedAt = stored.startedAt;
      instance.endedAt = stored.endedAt;
      instance.resumeData = stored.resumeData;
      instance.eventPayload = stored.eventPayload;
      instance.parked = stored.parked;
      instance.waitingForEvent = stored.waitingForEvent;
      instance.timerInfo = stored.timer;
      instance.version = stored.version;
      instance.storedAt = stored.createdAt;
      instance.created = stored.attempt > 0;
      this.#instances.set(instance.key, instance);
    }
    for (const [index, instances] of mapped) {
      const task = this.flow.tasks[index]!;
      instances.sort((a, b) => a.mapIndex! - b.mapIndex!);
      this.#mapped.set(index, instances);
      const placeholder = this.#primary[index];
      if (placeholder !== undefined && this.#instances.get(placeholder.key) === placeholder) this.#instances.delete(placeholder.key);
      this.#addUpstreamInstances(task.index, instances.length - 1);
    }
    for (const [index, instances] of mapped) {
      const list = this.#resultOf(this.flow.tasks[this.flow.tasks[index]!.mapOver]!);
      for (const instance of instances) instance.item = Array.isArray(list) ? list[instance.mapIndex!] : undefined;
    }
    this.#stateCounts.clear();
    this.#unfinished = 0;
    for (const instance of this.#instances.values()) {
      this.#countState(instance.state, 1);
      if (!finishedStates.has(instance.state)) this.#unfinished++;
    }
    for (const task of this.flow.tasks) {
      if (task.kind === 'subtask') continue;
      const primary = this.#primary[task.index];
      if (this.#mapped.has(task.index) || (primary !== undefined && primary.state !== 'none')) this.#decided[task.index] = 1;
      for (const instance of this.#instancesOf(task)) {
        if (finishedStates.has(instance.state)) this.#recount(instance, instance.state);
      }
    }
  }

  /**
   * Continues what the stored states say was in progress. An attempt that was `running` in a
   * process that died counts as a failed attempt (`infrastructure`), retried while attempts
   * remain; timers are re-armed from their stored deadlines; queued instances start their gates
   * again; tasks that left the definition are marked removed.
   */
  #recover(): void {
    const now = this.settings.clock.now();
    for (const instance of [...this.#instances.values()]) {
      if (instance.task.index < 0) {
        this.#removeLeftover(instance);
        continue;
      }
      const timer = instance.timerInfo;
      switch (instance.state) {
        case 'success':
          // Reused, not run again: decorators learn of it with isCloned (as Metaflow's resume).
          if (instance.created) this.#taskFinished(instance, true);
          break;
        case 'none':
          if (instance.isChild || instance.mapIndex !== undefined) this.#enqueueReady(instance);
          break;
        case 'scheduled':
          this.#toQueue.push(instance);
          break;
        case 'queued':
          if (this.settings.gates.length > 0) {
            instance.pendingGates = this.settings.gates.map((gate) => gate.name);
            this.#startGates(instance, this.settings.gates);
          } else {
            this.#admit(instance);
          }
          break;
        case 'running': {
          const error = new Error(
            `the process running attempt ${instance.context.attempt} of '${instance.key}' stopped before the attempt ended (crash, kill or shutdown)`,
          );
          instance.error = error;
          instance.failureKind = 'infrastructure';
          const state = this.#transition(instance, { type: 'FAIL' }, { error });
          if (state === 'up_for_retry') this.#setTimer(instance, retryDelayFor(instance.task, instance.context.attempt), 'retry');
          break;
        }
        case 'restarting':
          this.#transition(instance, { type: 'STOPPED' });
          this.#setTimer(instance, 0, 'retry');
          break;
        case 'up_for_retry':
        case 'up_for_reschedule':
        case 'deferred':
        case 'checkpointed':
          if (timer !== undefined) this.#setTimer(instance, Math.max(0, timer.deadline - now), timer.action);
          else if (instance.state === 'up_for_retry') this.#setTimer(instance, 0, 'retry');
          else if (instance.state === 'up_for_reschedule') this.#setTimer(instance, 0, 'poke');
          else if (instance.state === 'checkpointed' && instance.task.resumeAfter !== undefined) this.#setTimer(instance, instance.task.resumeAfter, 'resume');
          else instance.parked = true;
          break;
        default:
          break;
      }
    }
  }

  #removeLeftover(instance: TaskInstance): void {
    if (finishedStates.has(instance.state)) return;
    if (instance.state === 'running') {
      instance.error = new Error(`task '${instance.task.id}' is no longer in the flow definition`);
      instance.failureKind = 'infrastructure';
      this.#transition(instance, { type: 'FAIL', failFast: true }, { error: instance.error });
      return;
    }
    if (instance.state === 'restarting') this.#transition(instance, { type: 'STOPPED' });
    if (instance.state !== 'none') this.#transition(instance, { type: 'CLEAR' });
    this.#transition(instance, { type: 'REMOVE' });
  }

  #runFields() {
    const snapshot = this.runActor.getSnapshot();
    return { state: snapshot.value, reason: snapshot.context.reason, startedAt: this.#startedAt, endedAt: this.#endedAt };
  }

  #failToStart(error: Error): void {
    this.#finished = true;
    this.#halted = true;
    this.#done.reject(error);
    const rejecters = this.#settledRejecters;
    this.#settledRejecters = [];
    this.#settledWaiters = [];
    for (const reject of rejecters) reject(error);
  }

  /** A commit failed (conflict, disk full, …): the run cannot stay consistent, so it stops here. */
  #onStoreFailure(error: Error): void {
    this.settings.log(`taskmachine: run '${this.runId}' stopped: the store refused a write: ${error.message}`);
    this.#halted = true;
    for (const instance of this.#instances.values()) {
      this.#clearTimer(instance);
      this.#abortGates(instance, error);
      instance.current?.abort(error);
    }
    this.#failToStart(error);
  }

  /**
   * Resolves once everything this run changed so far is in the store (immediately without one)
   * and the listeners have received every hook call so far.
   */
  async persisted(): Promise<void> {
    await this.#opened;
    const persist = this.#persist;
    if (persist !== undefined) {
      await persist.flush(this.settings.clock.now());
      if (persist.failure) throw persist.failure;
    }
    await this.#drainListeners();
  }

  /** Resolves when the run finishes, or when it cannot progress without `resumeTask`/`sendEvent`. */
  settled(): Promise<FlowRunRecord> {
    if (this.#finished) return this.#done.promise;
    const promise = new Promise<FlowRunRecord>((resolve, reject) => {
      this.#settledWaiters.push(resolve);
      this.#settledRejecters.push(reject);
    });
    // A run that already waits takes no further turn by itself: take one to notice it.
    this.#requestTurn();
    return promise;
  }

  subscribe(observer: ChangeObserver): () => void {
    this.#observers.push(observer);
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  snapshot(): FlowRunRecord {
    const tasks: Record<string, TaskInstanceRecord> = {};
    const waitingOn: string[] = [];
    for (const instance of this.#instances.values()) {
      tasks[instance.key] = instance.toRecord();
      if (instance.parked) waitingOn.push(instance.key);
    }
    const runSnapshot = this.runActor.getSnapshot();
    return Object.freeze({
      flowId: this.flowId,
      runId: this.runId,
      state: runSnapshot.value,
      reason: runSnapshot.context.reason,
      tasks: Object.freeze(tasks),
      waitingOn: Object.freeze(waitingOn),
      startedAt: this.#startedAt,
      endedAt: this.#endedAt,
    });
  }

  /** How many task instances are in each state (states with none are left out). */
  stateCounts(): Partial<Record<TaskInstanceState, number>> {
    const counts: Partial<Record<TaskInstanceState, number>> = {};
    for (const [state, count] of this.#stateCounts) if (count > 0) counts[state] = count;
    return counts;
  }

  #countState(state: TaskInstanceState, by: number): void {
    this.#stateCounts.set(state, (this.#stateCounts.get(state) ?? 0) + by);
  }

  taskInstance(key: string): TaskInstanceRecord | undefined {
    return this.#instances.get(key)?.toRecord();
  }

  setState(key: string, state: ManualTaskInstanceState): void {
    if (state !== 'success' && state !== 'failed' && state !== 'skipped') {
      throw new TypeError(`setState: state must be 'success', 'failed' or 'skipped', got ${JSON.stringify(state)}`);
    }
    const instance = this.#instanceFor(key);
    // Check legality before discarding anything, so a rejected request changes nothing.
    this.#assertLegal(instance, { type: 'SET_STATE', state });
    this.#reopenIfFinished();
    this.#stopWaiting(instance, new Error(`task instance '${key}' was manually set to ${state}`));
    if (state === 'failed') {
      instance.error = new Error(`task instance '${key}' was manually set to failed`);
      instance.failureKind = 'manual';
    }
    this.#transition(instance, { type: 'SET_STATE', state });
    if (!instance.isChild) this.#decided[instance.task.index] = 1;
    if (state === 'success') this.#clearFailedDownstream(instance.task);
    this.#requestTurn();
  }

  clear(key: string): void {
    const instance = this.#instanceFor(key);
    this.#assertLegal(instance, { type: 'CLEAR' });
    this.#reopenIfFinished();
    if (instance.state === 'running') {
      this.#stopWaiting(instance, new Error(`task instance '${key}' was cleared while running`));
      this.#transition(instance, { type: 'CLEAR' });
      this.#transition(instance, { type: 'STOPPED' });
      this.#setTimer(instance, 0, 'retry');
    } else {
      this.#stopWaiting(instance, new Error(`task instance '${key}' was cleared`));
      this.#resetToNone(instance);
    }
    this.#requestTurn();
  }

  resumeTask(key: string): void {
    const instance = this.#instanceFor(key);
    this.#assertLegal(instance, { type: 'RESUME' });
    this.#clearTimer(instance);
    instance.parked = false;
    this.#transition(instance, { type: 'RESUME' });
    this.#toQueue.push(instance);
    this.#requestTurn();
  }

  sendEvent(key: string, payload?: unknown): void {
    const instance = this.#instanceFor(key);
    this.#assertLegal(instance, { type: 'TRIGGER' });
    if (!instance.waitingForEvent) {
      throw new IllegalTransitionError({
        subject: `task instance '${key}'`,
        state: instance.state,
        event: 'TRIGGER',
        legalEvents: ['CLEAR', 'SET_STATE'],
        detail: 'it deferred without event: true, so only its until/timeout resumes it',
      });
    }
    instance.eventPayload = payload;
    this.#resumeDeferred(instance, false);
  }

  cancel(reason = 'the run was cancelled'): void {
    if (this.#finished) return;
    const error = new RunCancelledError(reason);
    this.#halted = true;
    for (const instance of this.#instances.values()) {
      this.#clearTimer(instance);
      this.#abortGates(instance, error);
      instance.parked = false;
      const run = instance.current;
      if (run !== undefined) {
        run.abort(error);
        this.#settle(run, false, error);
      }
    }
    this.#finish('failed', 'cancelled');
  }

  /**
   * Graceful shutdown: nothing new starts, running attempts are aborted with reason `'preempt'`
   * (task code may answer with `TaskCheckpointed`), and the run waits up to `graceMs` for them.
   * Attempts that end in time are recorded as usual (a failure leaves the instance `running`, so a
   * resume counts it as an interrupted attempt); timers keep their stored deadlines. Resolves with
   * the run (still `running`) once everything is in the store.
   */
  async shutdown(graceMs: number): Promise<FlowRunRecord> {
    if (this.#finished) return this.#done.promise;
    this.#shuttingDown = true;
    this.#halted = true;
    for (const instance of this.#instances.values()) {
      this.#clearTimer(instance, true);
      this.#abortGates(instance, 'preempt');
      instance.current?.abort('preempt');
    }
    const deadline = performance.now() + graceMs;
    while (this.#running + this.#childrenRunning + this.#pendingSettles > 0 && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(10, Math.max(0, deadline - performance.now())));
        this.#onQuiet = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#onQuiet = undefined;
    // The process is going away: listeners get their last hook, as at the end of a run.
    this.#dispatcher?.emit('beforeStopping', { flowRun: this.snapshot() });
    await this.persisted();
    await this.#drainListeners();
    // Whatever still happens in this process (an attempt that ignored the grace period) is not
    // written: the store keeps the state as of the shutdown, and a resume takes it from there.
    this.#persist = undefined;
    return this.snapshot();
  }

  #shuttingDown = false;
  #onQuiet: (() => void) | undefined;

  // ————— scheduler —————

  #requestTurn(): void {
    if (this.#turnRequested || this.#finished) return;
    this.#turnRequested = true;
    queueMicrotask(this.#turnCallback);
  }

  readonly #turnCallback = (): void => {
    this.#turnRequested = false;
    try {
      this.#turn();
    } catch (error) {
      // A bug in the runtime must not leave the run hanging or crash the process.
      this.settings.log(`taskmachine: internal error in run '${this.runId}': ${toError(error).stack ?? String(error)}`);
      this.#halted = true;
      this.#finish('failed', 'task_failure');
    }
  };

  #turn(): void {
    // Nothing moves before the run is opened (created in or restored from its store).
    if (this.#finished || this.#loading) return;
    if (this.settings.paused) {
      void this.#persist?.flush(this.settings.clock.now());
      return;
    }
    this.turns++;
    const startsBefore = this.#startsTotal;
    let progressed = true;
    while (progressed && !this.#halted) {
      progressed = false;
      while (this.#toEvaluate.length > 0) {
        const batch = this.#toEvaluate;
        this.#toEvaluate = [];
        for (const index of batch) this.#evaluate(index);
        progressed = true;
      }
      while (this.#toQueue.length > 0) {
        const batch = this.#toQueue;
        this.#toQueue = [];
        for (const instance of batch) if (instance.state === 'scheduled') this.#queue(instance);
        progressed = true;
      }
      // Admit ready instances into the scheduling window (Airflow also schedules in batches: an
      // instance whose dependencies are met stays `none` until the scheduler picks it up).
      while (this.#readyHead < this.#ready.length && this.#waitingCount() < this.#windowSize) {
        const instance = this.#ready[this.#readyHead++]!;
        if (instance.queuedAs !== 'ready' || instance.state !== 'none') continue;
        instance.queuedAs = undefined;
        this.#schedule(instance);
        progressed = true;
      }
      if (this.#readyHead === this.#ready.length) {
        this.#ready = [];
        this.#readyHead = 0;
      }
      while (this.#slotHead < this.#waitingForSlot.length && this.#running < this.settings.concurrency) {
        const instance = this.#waitingForSlot[this.#slotHead++]!;
        if (instance.queuedAs !== 'slot' || instance.state !== 'queued') continue;
        instance.queuedAs = undefined;
        this.#startAttempt(instance);
        progressed = true;
        if (this.#toEvaluate.length > 0 || this.#toQueue.length > 0) break;
      }
      if (this.#slotHead === this.#waitingForSlot.length) {
        this.#waitingForSlot = [];
        this.#slotHead = 0;
      }
      if (progressed && this.#startsTotal - startsBefore >= TURN_BUDGET_STARTS) {
        void this.#persist?.flush(this.settings.clock.now());
        setImmediate(() => this.#requestTurn());
        return;
      }
    }
    this.#checkProgress();
    // Group commit: everything this turn changed goes to the store in one batch.
    void this.#persist?.flush(this.settings.clock.now());
  }

  #waitingCount(): number {
    return this.#waitingForSlot.length - this.#slotHead;
  }

  #checkProgress(): void {
    if (this.#finished) return;
    if (this.#unfinished === 0) {
      this.#finish(this.#anyLeafFailed() ? 'failed' : 'success', 'task_failure');
      return;
    }
    if (this.#halted) return;
    const idle =
      this.#running === 0 &&
      this.#timers === 0 &&
      this.#readyHead >= this.#ready.length &&
      this.#waitingCount() === 0 &&
      this.#toQueue.length === 0 &&
      this.#toEvaluate.length === 0 &&
      this.#pendingSettles === 0 &&
      this.#gatesPending === 0 &&
      !this.#anyChildRunning();
    if (!idle) return;
    let parked = 0;
    for (const instance of this.#instances.values()) if (instance.parked) parked++;
    if (parked > 0) {
      void this.#persist?.flush(this.settings.clock.now());
      void Promise.all([this.#drainListeners(), this.#persist?.settled()]).then(() => this.#notifySettled());
      return;
    }
    this.#finish('failed', 'all_tasks_deadlocked');
  }

  #childrenRunning = 0;

  #anyChildRunning(): boolean {
    return this.#childrenRunning > 0;
  }

  #anyLeafFailed(): boolean {
    for (const task of this.flow.tasks) {
      if (task.kind === 'subtask' || this.#graph.downstreamCount(task.index) > 0) continue;
      for (const instance of this.#instancesOf(task)) if (failedStates.has(instance.state)) return true;
    }
    return false;
  }

  /** A mapped task expanded to `extra` more instances than its placeholder: its downstream tasks wait for all. */
  #addUpstreamInstances(index: number, extra: number): void {
    const { down, downStart } = this.#graph;
    for (let k = downStart[index]!; k < downStart[index + 1]!; k++) this.#counts.at(down[k]!)!.total += extra;
  }

  #instancesOf(task: TaskDefinition): readonly TaskInstance[] {
    const mapped = this.#mapped.get(task.index);
    if (mapped !== undefined) return mapped;
    const primary = this.#primary[task.index];
    return primary === undefined ? [] : [primary];
  }

  #finish(outcome: 'success' | 'failed', reason: FlowRunFailureReason): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#endedAt = this.settings.clock.now();
    for (const instance of this.#instances.values()) {
      this.#clearTimer(instance);
      if (instance.actor !== undefined) {
        instance.actor.stop();
        instance.actor = undefined;
      }
    }
    if (outcome === 'success') applyEvent(this.runActor, { type: 'SUCCEED' }, 'flow run');
    else applyEvent(this.runActor, { type: 'FAIL', reason: reason === 'manual' ? 'task_failure' : reason }, 'flow run');
    this.#decoratorActors?.quiesce();
    this.#persist?.updateRun(this.#runFields(), this.#endedAt);
    void this.#persist?.flush(this.#endedAt);
    const record = this.snapshot();
    const done = this.#done;
    void this.#afterFinish(record).then(
      () => {
        const failure = this.#persist?.failure;
        if (failure !== undefined) {
          this.#failToStart(failure);
          return;
        }
        done.resolve(record);
        this.#notifySettled(record);
      },
      (error: unknown) => {
        this.settings.log(`taskmachine: internal error finishing run '${this.runId}': ${toError(error).stack}`);
        done.resolve(record);
        this.#notifySettled(record);
      },
    );
  }

  /** Flow-run hooks, `beforeStopping`, every decorator's `runFinished`, then the listeners' queues. */
  async #afterFinish(record: FlowRunRecord): Promise<void> {
    const dispatcher = this.#dispatcher;
    if (dispatcher !== undefined) {
      if (record.state === 'success') dispatcher.emit('onFlowRunSuccess', { flowRun: record, msg: 'success' });
      else dispatcher.emit('onFlowRunFailed', { flowRun: record, msg: record.reason ?? 'failed' });
      dispatcher.emit('beforeStopping', { flowRun: record });
    }
    await this.#persist?.settled();
    const seen = new Set<Decorator<any>>();
    const error = record.state === 'failed' ? new Error(`flow run '${record.runId}' failed: ${record.reason}`) : undefined;
    for (const task of this.flow.tasks) {
      if (task.decorators.length === 0) continue;
      const pending = task.decorators.filter((d) => d.definition.hooks.runFinished !== undefined && !seen.has(d));
      if (pending.length === 0) continue;
      for (const d of pending) seen.add(d);
      const sys = hookContext(this.#sysFields(task.index, undefined, undefined, 0, task.retries + 1, 'dispatch'), task.published, undefined);
      const { errors } = await runHooks(pending, (d) => d.definition.hooks.runFinished!(error, sys, d.params));
      for (const hookError of errors) this.settings.log(`taskmachine: ${hookError.message}`);
    }
    await this.#drainListeners();
  }

  #drainListeners(): Promise<void> {
    return this.#dispatcher?.drain(this.settings.listenerTimeout) ?? Promise.resolve();
  }

  #notifySettled(record = this.snapshot()): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    this.#settledRejecters = [];
    for (const resolve of waiters) resolve(record);
  }

  /** A finished run that gets work again (clear, manual set) goes back to queued → running. */
  #reopenIfFinished(): void {
    if (!this.#finished) return;
    applyEvent(this.runActor, { type: 'RERUN' }, 'flow run');
    applyEvent(this.runActor, { type: 'START' }, 'flow run');
    this.#finished = false;
    this.#halted = false;
    this.#endedAt = undefined;
    this.#done = deferred();
    this.#persist?.updateRun(this.#runFields(), this.settings.clock.now());
  }

  // ————— trigger rules and instance creation —————

  #evaluate(index: number): void {
    if (this.#decided[index] === 1) return;
    const task = this.flow.tasks[index]!;
    const instance = this.#primary[index];
    if (instance === undefined || instance.state !== 'none') return;
    const counts = this.#counts.at(index);
    this.triggerEvaluations++;
    const decision = counts === undefined ? 'run' : evaluateTriggerRule(task.trigger, counts);
    if (decision === 'wait') return;
    this.#decided[index] = 1;
    if (decision === 'skipped') {
      this.#transition(instance, { type: 'SKIP' });
    } else if (decision === 'upstream_failed') {
      this.#transition(instance, { type: 'UPSTREAM_FAILED' });
    } else if (task.kind === 'map') {
      this.#expand(task, instance);
    } else {
      this.#enqueueReady(instance);
    }
  }

  #enqueueReady(instance: TaskInstance): void {
    instance.queuedAs = 'ready';
    this.#ready.push(instance);
  }

  #expand(task: TaskDefinition, placeholder: TaskInstance): void {
    const over = this.flow.tasks[task.mapOver]!;
    const overInstances = this.#instancesOf(over);
    const succeeded = overInstances.length > 0 && overInstances.every((i) => i.state === 'success');
    const list = succeeded ? this.#resultOf(over) : undefined;
    if (!Array.isArray(list)) {
      placeholder.startFailure = new FailTask(
        succeeded
          ? `cannot map '${task.id}' over '${over.id}': its result is not a list (got ${typeof list})`
          : `cannot map '${task.id}' over '${over.id}': it did not succeed, so there is no list to map over`,
      );
      this.#enqueueReady(placeholder);
      return;
    }
    if (list.length === 0) {
      this.#transition(placeholder, { type: 'SKIP' });
      return;
    }
    this.#instances.delete(placeholder.key);
    this.#persist?.remove(placeholder);
    this.#countState('none', list.length - 1);
    const instances = list.map(
      (item, mapIndex) => new TaskInstance({ key: `${task.id}[${mapIndex}]`, task, mapIndex, item }),
    );
    this.#mapped.set(task.index, instances);
    this.#unfinished += instances.length - 1;
    this.#addUpstreamInstances(task.index, instances.length - 1);
    for (const instance of instances) {
      this.#instances.set(instance.key, instance);
      // Stored now, in the batch that deletes the placeholder: a crash must not lose the
      // instances that were not scheduled yet.
      this.#persist?.touch(instance);
      this.#enqueueReady(instance);
    }
  }

  #resultOf(task: TaskDefinition): unknown {
    const mapped = this.#mapped.get(task.index);
    if (mapped !== undefined) return mapped.map((instance) => instance.result);
    if (task.kind === 'map') return [];
    return this.#primary[task.index]?.result;
  }

  #upstreamValues(task: TaskDefinition): Record<string, unknown> {
    const { up, upStart } = this.#graph;
    if (task.index < 0 || upStart[task.index] === upStart[task.index + 1]) return NO_UPSTREAM;
    // A null-prototype object (like Object.groupBy's results), which V8 keeps in dictionary mode:
    // every task has its own set of upstream ids, and a plain object would make V8 create hidden
    // classes for each task's ids (270 bytes per task of old-space garbage); giving the dictionary
    // Object.prototype back would still cost a hidden class per object.
    const upstream: Record<string, unknown> = Object.create(null);
    for (let k = upStart[task.index]!; k < upStart[task.index + 1]!; k++) {
      const upstreamTask = this.flow.tasks[up[k]!]!;
      upstream[upstreamTask.id] = this.#resultOf(upstreamTask);
    }
    return upstream;
  }

  // ————— lifecycle steps —————

  #schedule(instance: TaskInstance): void {
    this.#transition(instance, { type: 'SCHEDULE' });
    this.#queue(instance);
  }

  #queue(instance: TaskInstance): void {
    const gates = this.settings.gates;
    if (gates.length > 0) {
      // Set before the transition so listeners and views see what the instance waits on.
      instance.pendingGates = gates.map((gate) => gate.name);
      this.#transition(instance, { type: 'QUEUE' });
      this.#startGates(instance, gates);
      return;
    }
    this.#transition(instance, { type: 'QUEUE' });
    this.#admit(instance);
  }

  /** A queued instance whose gates (if any) passed: a child starts, a DAG task waits for a slot. */
  #admit(instance: TaskInstance): void {
    if (instance.isChild) {
      this.#startAttempt(instance);
      return;
    }
    instance.queuedAs = 'slot';
    this.#waitingForSlot.push(instance);
  }

  /**
   * Starts every gate for this attempt, concurrently and off the scheduler's path (each `prepare`
   * begins in a microtask). The instance is admitted when all resolved; the first rejection aborts
   * the others and fails the attempt through `GATE_FAIL`.
   */
  #startGates(instance: TaskInstance, gates: readonly Gate[]): void {
    const attempt = instance.context.attempt;
    this.#gatesPending++;
    const stillQueued = () => instance.state === 'queued' && instance.context.attempt === attempt;
    startGateRound(instance, gates, this.settings.log, {
      passed: () => {
        this.#gatesPending--;
        this.#requestTurn();
        if (stillQueued()) this.#admit(instance);
      },
      failed: (error, retryable, gate) => {
        this.#gatesPending--;
        this.#requestTurn();
        if (!stillQueued()) return;
        try {
          instance.error = error;
          instance.failureKind = 'gate';
          const state = this.#transition(instance, { type: 'GATE_FAIL', retryable }, { error });
          if (state === 'up_for_retry' && !this.#halted) this.#setTimer(instance, retryDelayFor(instance.task, attempt), 'retry');
        } catch (internal) {
          this.settings.log(`taskmachine: internal error after gate '${gate}' of '${instance.key}' failed: ${toError(internal).stack}`);
        }
      },
    });
  }

  #abortGates(instance: TaskInstance, reason: unknown): void {
    const controller = instance.gateController;
    if (controller === undefined) return;
    instance.gateController = undefined;
    instance.pendingGates = undefined;
    this.#gatesPending--;
    controller.abort(reason);
  }

  #startsTotal = 0;

  #startAttempt(instance: TaskInstance): void {
    this.#startsTotal++;
    this.#transition(instance, { type: 'START', attempt: instance.context.attempt });
    const { clock } = this.settings;
    if (instance.startedAt === undefined) instance.startedAt = clock.now();
    const run = new AttemptRun(instance, instance.context.attempt);
    instance.current = run;
    if (instance.isChild) this.#childrenRunning++;
    else this.#running++;
    if (instance.startFailure !== undefined) {
      this.#settle(run, false, instance.startFailure);
      return;
    }
    if (instance.context.deferTimedOut) {
      this.#settle(run, false, new DeferralTimeoutError(`task instance '${instance.key}' was not resumed before its deferral timeout`));
      return;
    }
    const task = instance.task;
    if (task.timeout !== undefined) {
      const timeout = task.timeout;
      run.timeoutTimer = clock.setTimeout(() => {
        run.timeoutTimer = undefined;
        if (run.settled) return;
        const error = new TaskTimeoutError(instance.key, timeout);
        run.abort(error);
        this.#settleAndTurn(run, false, error);
      }, timeout);
    }
    const args = instance.isChild
      ? { input: instance.callInput, upstream: NO_UPSTREAM }
      : instance.mapIndex === undefined
        ? { input: this.#input, upstream: this.#upstreamValues(task) }
        : { input: this.#input, upstream: this.#upstreamValues(task), item: instance.item, mapIndex: instance.mapIndex };
    const context = new AttemptContext(this, run, instance.customContext ?? this.settings.customContext);
    if (task.decorators.length > 0) {
      void this.#runDecoratedAttempt(run, context, args);
      return;
    }
    let result: unknown;
    try {
      result = taskContextStorage.run(context, task.fn, args);
    } catch (error) {
      this.#settle(run, false, error);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
      Promise.resolve(result).then(
        (value) => this.#settleAndTurn(run, true, value),
        (error: unknown) => this.#settleAndTurn(run, false, error),
      );
    } else {
      this.#settle(run, true, result);
    }
  }

  /** An attempt of a decorated task: taskCreated (first time), beforeAttempt, wrap, the function. */
  async #runDecoratedAttempt(run: AttemptRun, context: AttemptContext, args: TaskArgs): Promise<void> {
    const instance = run.instance;
    const task = instance.task;
    const decorators = task.decorators;
    try {
      this.#reportResources(instance);
      const errors: Error[] = [];
      if (!instance.created) {
        instance.created = true;
        const sys = hookContext(this.#sysFieldsOf(instance, 'dispatch'), task.published, undefined);
        errors.push(...(await runHooks(decorators, (d) => d.definition.hooks.taskCreated?.(sys, d.params))).errors);
      }
      const sys = hookContext(this.#sysFieldsOf(instance, 'task'), task.published, run.published);
      run.sys = sys;
      errors.push(...(await runHooks(decorators, (d) => d.definition.hooks.beforeAttempt?.(sys, d.params))).errors);
      if (run.settled) return;
      if (errors.length > 0) {
        this.#settleAndTurn(run, false, new AggregateError(errors, `${errors.length} decorator hook(s) failed before attempt ${run.attempt} of '${instance.key}'`));
        return;
      }
      const fn = wrapTaskFn(decorators, task.fn, sys);
      const value = await taskContextStorage.run(context, fn, args);
      this.#settleAndTurn(run, true, value);
    } catch (error) {
      this.#settleAndTurn(run, false, error);
    }
  }

  #reportResources(instance: TaskInstance): void {
    const index = instance.task.index;
    if (this.#reportedResources.has(index)) return;
    this.#reportedResources.add(index);
    const request = instance.task.published.get('resources')?.get('request');
    if (request !== undefined) {
      this.settings.log(
        `[${instance.task.id}] resources requested: ${Object.entries(request as object).map(([k, v]) => `${k}=${v}`).join(' ')} (the local executor reports them; it does not enforce them)`,
      );
    }
  }

  #sysFieldsOf(instance: TaskInstance, phase: 'dispatch' | 'task') {
    return this.#sysFields(instance.task.index, instance.key, instance.mapIndex, phase === 'task' ? instance.context.attempt : instance.context.attempt, instance.context.maxAttempts, phase);
  }

  #sysFields(index: number, taskKey: string | undefined, mapIndex: number | undefined, attempt: number, maxAttempts: number, phase: 'dispatch' | 'task') {
    return {
      phase,
      flowId: this.flowId,
      runId: this.runId,
      taskId: this.flow.tasks[index]!.id,
      taskKey,
      mapIndex,
      attempt,
      maxAttempts,
      isCloned: false,
    };
  }

  #settleAndTurn(run: AttemptRun, ok: boolean, value: unknown): void {
    try {
      this.#settle(run, ok, value);
    } catch (error) {
      this.settings.log(`taskmachine: internal error settling '${run.instance.key}': ${toError(error).stack}`);
    }
    this.#requestTurn();
  }

  /**
   * Ends an attempt (once). Without decorators the outcome is applied at once; with decorators
   * their `onAttemptSettled` hooks run first (exactly once each) and may change it.
   */
  #settle(run: AttemptRun, ok: boolean, value: unknown): void {
    if (run.settled) return;
    run.settled = true;
    this.#releaseAttempt(run);
    const decorators = run.instance.task.decorators;
    if (decorators.length === 0) {
      this.#applyOutcome(run, ok, value);
      return;
    }
    this.#pendingSettles++;
    void this.#settleDecorated(run, ok, value, decorators).finally(() => {
      this.#pendingSettles--;
      this.#onQuiet?.();
      this.#requestTurn();
    });
  }

  async #settleDecorated(run: AttemptRun, ok: boolean, value: unknown, decorators: readonly Decorator<any>[]): Promise<void> {
    const instance = run.instance;
    try {
      const sys = run.sys ?? hookContext(this.#sysFieldsOf(instance, 'task'), instance.task.published, run.published);
      const control =
        value instanceof SkipTask || value instanceof TaskCheckpointed || value instanceof DeferSignal || value instanceof RescheduleSignal;
      const failFast = value instanceof FailTask || value instanceof RunCancelledError;
      const result = ok
        ? ({ ok: true, value } as const)
        : ({
            ok: false,
            error: toError(value),
            control,
            willRetry: !control && !failFast && instance.context.attempt < instance.context.maxAttempts,
          } as const);
      const outcome = await settleWithHooks(decorators, result, sys, value);
      if (run.discarded || instance.state !== 'running' || instance.context.attempt !== run.attempt) return;
      this.#applyOutcome(run, outcome.ok, outcome.ok ? outcome.value : outcome.error);
    } catch (error) {
      this.settings.log(`taskmachine: internal error settling '${instance.key}': ${toError(error).stack}`);
    }
  }

  /** The lifecycle event for an attempt's outcome. */
  #applyOutcome(run: AttemptRun, ok: boolean, value: unknown): void {
    const instance = run.instance;
    if (ok) {
      instance.result = value;
      instance.error = undefined;
      instance.failureKind = undefined;
      this.#transition(instance, { type: 'SUCCEED' });
      // Committed in the same batch as the success transition; never for a failed attempt.
      this.#persist?.result(instance, run.attempt, value, this.settings.clock.now());
      return;
    }
    if (value instanceof SkipTask) {
      this.#transition(instance, { type: 'SKIP' });
    } else if (value instanceof TaskCheckpointed) {
      instance.resumeData = value.data;
      this.#transition(instance, { type: 'CHECKPOINT' }, { checkpointData: value.data });
      const resumeAfter = instance.task.resumeAfter;
      if (resumeAfter !== undefined) this.#setTimer(instance, resumeAfter, 'resume');
      else instance.parked = true;
    } else if (value instanceof DeferSignal) {
      this.#transition(instance, { type: 'DEFER' });
      this.#deferUntil(instance, value);
    } else if (value instanceof RescheduleSignal) {
      this.#transition(instance, { type: 'RESCHEDULE' });
      this.#setTimer(instance, value.delay, 'poke');
    } else if (this.#shuttingDown) {
      // Interrupted by the shutdown: left `running` in the store, a resume counts it as an
      // interrupted attempt (kind infrastructure) and retries it while attempts remain.
      instance.error = toError(value);
      return;
    } else {
      const error = toError(value);
      const kind: FailureKind =
        value instanceof TaskTimeoutError ? 'timeout' : value instanceof RunCancelledError ? 'infrastructure' : 'application';
      instance.error = error;
      instance.failureKind = kind;
      const failFast = value instanceof FailTask || value instanceof RunCancelledError;
      const state = this.#transition(instance, { type: 'FAIL', failFast }, { error });
      if (state === 'up_for_retry' && !this.#halted) {
        this.#setTimer(instance, retryDelayFor(instance.task, run.attempt), 'retry');
      }
    }
  }

  #releaseAttempt(run: AttemptRun): void {
    const instance = run.instance;
    if (run.timeoutTimer !== undefined) {
      this.settings.clock.clearTimeout(run.timeoutTimer);
      run.timeoutTimer = undefined;
    }
    if (instance.current === run) instance.current = undefined;
    if (instance.isChild) this.#childrenRunning--;
    else this.#running--;
    this.#onQuiet?.();
  }

  #retry(instance: TaskInstance): void {
    this.#transition(instance, { type: 'RETRY' });
    this.#toQueue.push(instance);
  }

  #autoResume(instance: TaskInstance): void {
    this.#transition(instance, { type: 'RESUME' });
    this.#toQueue.push(instance);
  }

  #deferUntil(instance: TaskInstance, signal: DeferSignal): void {
    const now = this.settings.clock.now();
    instance.waitingForEvent = signal.waitForEvent;
    const deadlines: Array<{ at: number; timedOut: boolean }> = [];
    if (signal.until !== undefined) deadlines.push({ at: signal.until, timedOut: false });
    if (signal.timeout !== undefined) deadlines.push({ at: now + signal.timeout, timedOut: true });
    if (deadlines.length === 0) {
      instance.parked = true;
      return;
    }
    const first = deadlines.reduce((a, b) => (b.at < a.at ? b : a));
    this.#setTimer(instance, Math.max(0, first.at - now), first.timedOut ? 'trigger-timeout' : 'trigger');
  }

  #resumeDeferred(instance: TaskInstance, timedOut: boolean): void {
    this.#clearTimer(instance);
    instance.parked = false;
    instance.waitingForEvent = false;
    this.#transition(instance, { type: 'TRIGGER', timedOut });
    this.#toQueue.push(instance);
    this.#requestTurn();
  }

  /**
   * Sets the instance's one pending timer. The deadline is absolute and stored with the instance
   * (never an XState `after`, which a restored actor would lose), so a resumed run re-arms it.
   */
  #setTimer(instance: TaskInstance, ms: number, action: TimerAction): void {
    this.#clearTimer(instance);
    instance.timerInfo = { deadline: this.settings.clock.now() + ms, action };
    this.#persist?.touch(instance);
    // Shutting down: the deadline is stored for the resumed run, nothing fires in this process.
    if (this.#shuttingDown) return;
    this.#timers++;
    instance.timer = this.settings.clock.setTimeout(() => {
      instance.timer = undefined;
      instance.timerInfo = undefined;
      this.#timers--;
      if (this.#finished) return;
      try {
        this.#fireTimer(instance, action);
      } catch (error) {
        this.settings.log(`taskmachine: internal error in a timer of '${instance.key}': ${toError(error).stack}`);
      }
      this.#requestTurn();
    }, ms);
  }

  #fireTimer(instance: TaskInstance, action: TimerAction): void {
    switch (action) {
      case 'retry':
        this.#retry(instance);
        break;
      case 'poke':
        this.#transition(instance, { type: 'POKE' });
        this.#toQueue.push(instance);
        break;
      case 'trigger':
      case 'trigger-timeout':
        this.#resumeDeferred(instance, action === 'trigger-timeout');
        break;
      case 'resume':
        this.#autoResume(instance);
        break;
    }
  }

  #clearTimer(instance: TaskInstance, keepDeadline = false): void {
    if (instance.timer === undefined) return;
    this.settings.clock.clearTimeout(instance.timer);
    instance.timer = undefined;
    this.#timers--;
    if (keepDeadline) return;
    instance.timerInfo = undefined;
    this.#persist?.touch(instance);
  }

  /** Discards an attempt in flight and every pending wake-up, before a manual change. */
  #stopWaiting(instance: TaskInstance, reason: Error): void {
    this.#clearTimer(instance);
    this.#abortGates(instance, reason);
    instance.parked = false;
    instance.waitingForEvent = false;
    instance.queuedAs = undefined;
    const run = instance.current;
    if (run !== undefined) {
      run.abort(reason);
      run.discarded = true;
      if (!run.settled) {
        run.settled = true;
        this.#releaseAttempt(run);
      }
    }
  }

  #resetToNone(instance: TaskInstance): void {
    this.#transition(instance, { type: 'CLEAR' });
    instance.result = undefined;
    instance.error = undefined;
    instance.failureKind = undefined;
    instance.endedAt = undefined;
    if (instance.isChild || instance.mapIndex !== undefined) {
      this.#enqueueReady(instance);
    } else {
      this.#decided[instance.task.index] = 0;
      this.#toEvaluate.push(instance.task.index);
    }
  }

  /** After a manual success, downstream instances that failed because of it get another chance. */
  #clearFailedDownstream(task: TaskDefinition): void {
    const stack = [...this.#graph.downstreamOf(task.index)];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (seen.has(index)) continue;
      seen.add(index);
      const downstream = this.flow.tasks[index]!;
      for (const instance of this.#instancesOf(downstream)) {
        if (instance.state === 'failed' || instance.state === 'upstream_failed') {
          this.#stopWaiting(instance, new Error('cleared after an upstream was set to success'));
          this.#resetToNone(instance);
          stack.push(...this.#graph.downstreamOf(downstream.index));
        }
      }
    }
  }

  // ————— the one place lifecycle events are applied —————

  #transition(
    instance: TaskInstance,
    event: TaskInstanceEvent,
    extra?: { error?: Error; checkpointData?: unknown },
  ): TaskInstanceState {
    const actor = instance.actor ?? this.#materialize(instance);
    const { after } = applyEvent(actor, event, () => `task instance '${instance.key}'`, taskInstanceLogic.can);
    const previousState = instance.state;
    const state = after.value;
    instance.state = state;
    this.#persist?.transition(instance, previousState, state, event.type, this.settings.clock.now());
    if (previousState !== state) {
      this.#countState(previousState, -1);
      this.#countState(state, 1);
    }
    // The machine's own context object: immutable, and shared by every instance in the same
    // configuration (the memoized machine computes each one once).
    instance.context = after.context;
    const wasFinished = finishedStates.has(previousState);
    const isFinished = finishedStates.has(state);
    if (isFinished) {
      instance.endedAt = this.settings.clock.now();
      actor.stop();
      instance.actor = undefined;
    }
    if (this.#observers.length > 0 || this.#dispatcher !== undefined || this.#hasActorDecorators[instance.task.index] === 1) {
      this.#notify(instance, previousState, state, event, extra);
    }
    if (isFinished && !wasFinished && instance.created) this.#taskFinished(instance);
    if (wasFinished !== isFinished || (isFinished && previousState !== state)) {
      if (isFinished && !wasFinished) this.#unfinished--;
      else if (!isFinished && wasFinished) this.#unfinished++;
      this.#recount(instance, isFinished ? state : undefined);
      if (isFinished) this.#wakeCallers(instance);
    }
    return state;
  }

  #materialize(instance: TaskInstance): Actor<typeof taskInstanceMachine> {
    const fresh = instance.state === 'none' && instance.context.attempt === 0 && instance.context.manuallySetFrom === null;
    const actor = fresh
      ? createActor(taskInstanceLogic, { input: { retries: instance.task.retries } })
      : createActor(taskInstanceLogic, {
          snapshot: taskInstanceMachine.resolveState({ value: instance.state, context: { ...instance.context } }),
        });
    actor.start();
    this.actorsCreated++;
    instance.actor = actor;
    return actor;
  }

  #assertLegal(instance: TaskInstance, event: TaskInstanceEvent): void {
    const actor = instance.actor ?? this.#materialize(instance);
    if (actor.getSnapshot().can(event)) return;
    // Let applyEvent build the error (it names the legal events); it throws here.
    applyEvent(actor, event, `task instance '${instance.key}'`);
  }

  /** Moves the instance's contribution to its downstream counters to its new finished state. */
  #recount(instance: TaskInstance, finishedAs: TaskInstanceState | undefined): void {
    if (instance.isChild) return;
    const task = instance.task;
    const { down, downStart } = this.#graph;
    if (task.index < 0 || downStart[task.index] === downStart[task.index + 1]) {
      instance.countedAs = finishedAs;
      return;
    }
    const previous = instance.countedAs;
    instance.countedAs = finishedAs;
    for (let k = downStart[task.index]!; k < downStart[task.index + 1]!; k++) {
      const index = down[k]!;
      const counts = this.#counts.at(index)!;
      if (previous !== undefined) countUpstreamOutcome(counts, previous, task.setup, -1);
      if (finishedAs !== undefined) countUpstreamOutcome(counts, finishedAs, task.setup, 1);
      if (this.#decided[index] === 0) this.#toEvaluate.push(index);
    }
  }

  #wakeCallers(instance: TaskInstance): void {
    const waiters = instance.waiters;
    if (waiters === undefined) return;
    instance.waiters = undefined;
    for (const waiter of waiters) {
      if (instance.state === 'success') waiter.resolve(instance.result);
      else waiter.reject(new ChildTaskFailedError(instance.key, instance.state, { cause: instance.error }));
    }
  }

  #notify(
    instance: TaskInstance,
    previousState: TaskInstanceState,
    state: TaskInstanceState,
    event: TaskInstanceEvent,
    extra: { error?: Error; checkpointData?: unknown } | undefined,
  ): void {
    const change: TaskInstanceChange = Object.freeze({
      previousState,
      state,
      event: event.type,
      msg: msgFor(event, previousState, state),
      taskInstance: instance.toRecord(),
      ...(extra?.error !== undefined ? { error: extra.error } : {}),
      ...(event.type === 'SET_STATE' && state === 'failed' ? { error: instance.error } : {}),
      ...(event.type === 'CHECKPOINT' ? { checkpointData: extra?.checkpointData ?? null } : {}),
    });
    for (const observer of this.#observers) {
      try {
        observer(change);
      } catch (error) {
        this.settings.log(`taskmachine: a run observer threw: ${toError(error).stack}`);
      }
    }
    if (this.#dispatcher !== undefined) emitTaskInstanceHooks(this.#dispatcher, change);
    if (this.#hasActorDecorators[instance.task.index] === 1) {
      this.#decoratorActors ??= new DecoratorActors({
        flow: this.flow,
        runActor: this.runActor,
        clock: this.settings.clock,
        log: this.settings.log,
        onEvent: (decorator, event) => this.#onDecoratorEvent(decorator, event),
      });
      this.#decoratorActors.deliver(instance.task.index, change);
    }
  }

  /** Decorators' `onTaskFinished`, after the instance reached a finished state. */
  #taskFinished(instance: TaskInstance, isCloned = false): void {
    const decorators = instance.task.decorators.filter((d) => d.definition.hooks.onTaskFinished !== undefined);
    if (decorators.length === 0) return;
    const ok = instance.state === 'success';
    const sys = hookContext({ ...this.#sysFieldsOf(instance, 'dispatch'), isCloned }, instance.task.published, undefined);
    this.#pendingSettles++;
    void runHooks(decorators, (d) => d.definition.hooks.onTaskFinished!(ok, sys, d.params))
      .then(({ errors }) => {
        for (const error of errors) this.settings.log(`taskmachine: ${error.message}`);
      })
      .finally(() => {
        this.#pendingSettles--;
        this.#requestTurn();
      });
  }

  #onDecoratorEvent(decorator: Decorator<any>, event: DecoratorEvent): void {
    if (event?.type !== 'ABORT_ATTEMPT') {
      this.settings.log(`taskmachine: decorator '${decorator.name}' sent an unknown event ${JSON.stringify(event)}`);
      return;
    }
    const run = this.#instances.get(event.taskKey)?.current;
    if (run === undefined || run.attempt !== event.attempt || run.settled) return;
    run.abort(event.error);
    this.#settleAndTurn(run, false, event.error);
  }

  #instanceFor(key: string): TaskInstance {
    if (this.#loading) {
      throw new Error(`run '${this.runId}' is still being opened from its store; await handle.ready() before changing task instances`);
    }
    const instance = this.#instances.get(key);
    if (instance !== undefined) return instance;
    const known = [...this.#instances.keys()].slice(0, 20).join(', ');
    throw new Error(`run '${this.runId}' has no task instance '${key}'; known keys: ${known}`);
  }

  // ————— AttemptHost —————

  log(run: AttemptRun, parts: unknown[]): void {
    this.settings.log(`[${run.instance.key}#${run.attempt}] ${format(...parts)}`);
  }

  callChild(
    parent: AttemptRun,
    ref: TaskRef<unknown>,
    input: unknown,
    customContext: Readonly<Record<string, string>>,
  ): Promise<unknown> {
    const task = ref !== null && typeof ref === 'object' ? this.flow.task(ref.id) : undefined;
    if (task === undefined || ref.flowId !== this.flowId) {
      return Promise.reject(
        new TypeError(`ctx().call: ${describeRef(ref)} is not a task of flow '${this.flowId}'; pass a reference returned by f.task/f.subtask of this flow`),
      );
    }
    if (parent.settled) {
      return Promise.reject(new Error(`ctx().call('${task.id}'): the calling attempt of '${parent.instance.key}' has already ended`));
    }
    parent.callSeq ??= new Map();
    const sequence = parent.callSeq.get(task.id) ?? 0;
    parent.callSeq.set(task.id, sequence + 1);
    const key = `${parent.instance.key}/${task.id}#${sequence}`;
    let child = this.#instances.get(key);
    const sameCall = child !== undefined && isDeepStrictEqual(child.callInput, input);
    if (child?.state === 'success' && sameCall) return Promise.resolve(child.result);
    if (child !== undefined && !sameCall && !finishedStates.has(child.state)) {
      return Promise.reject(
        new Error(`ctx().call('${task.id}'): child '${key}' is still running with another input; await each call before the next one of the same task when inputs depend on earlier attempts`),
      );
    }
    if (child !== undefined && !sameCall) {
      // The same call position now carries another input (e.g. the caller skipped work it had
      // checkpointed): the earlier result is not this call's, so run the child again.
      child.callInput = input;
      child.customContext = customContext;
    }
    if (child === undefined) {
      child = new TaskInstance({ key, task, parentKey: parent.instance.key, callInput: input, customContext });
      this.#instances.set(key, child);
      this.#unfinished++;
      this.#countState('none', 1);
      this.#enqueueReadyChild(child);
    } else if (finishedStates.has(child.state)) {
      this.#reopenIfFinished();
      this.#resetToNone(child);
    }
    const promise = new Promise<unknown>((resolve, reject) => {
      (child.waiters ??= []).push({ resolve, reject });
    });
    this.#requestTurn();
    return promise;
  }

  #enqueueReadyChild(child: TaskInstance): void {
    // Children run inside their caller's slot: a caller waiting for a child that waits for a
    // slot would deadlock at concurrency 1.
    this.#enqueueReady(child);
  }

  /**
   * The checkpoint as earlier attempts left it: read once per attempt (from the store, or the
   * in-memory value), before this attempt's first save, so `load()` means the same with and
   * without a store.
   */
  loadCheckpoint(run: AttemptRun): Promise<unknown> {
    const persist = this.#persist;
    run.checkpointLoad ??=
      persist === undefined
        ? Promise.resolve(run.instance.checkpoint)
        : persist.store.loadCheckpoint(this.runId, run.instance.key).then((stored) => stored?.value);
    return run.checkpointLoad;
  }

  async saveCheckpoint(run: AttemptRun, value: unknown): Promise<void> {
    if (run.settled) {
      this.settings.log(`[${run.instance.key}#${run.attempt}] checkpoint.save ignored: the attempt has already ended`);
      return;
    }
    if (run.checkpointLoad === undefined) await this.loadCheckpoint(run).catch(() => undefined);
    run.instance.checkpoint = value;
    const persist = this.#persist;
    if (persist !== undefined) {
      await persist.store.saveCheckpoint({ runId: this.runId, key: run.instance.key, value, savedAt: this.settings.clock.now() });
    }
  }
}

/** Stands in for a task that is no longer in the flow definition (its instances become removed). */
function removedTask(id: string): TaskDefinition {
  return Object.freeze({
    id,
    index: -1,
    kind: 'task',
    fn: () => {
      throw new Error(`task '${id}' is no longer in the flow definition`);
    },
    ...DEFAULT_SETTINGS,
    upstream: Object.freeze([]),
    downstream: Object.freeze([]),
    mapOver: -1,
  });
}

function describeRef(ref: unknown): string {
  if (ref !== null && typeof ref === 'object' && 'id' in ref) return `task '${String((ref as TaskRef).id)}'`;
  return String(ref);
}
