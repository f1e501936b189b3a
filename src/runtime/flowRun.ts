import { format } from 'node:util';
import { makeRunRecord } from './runResult.ts';
import { finishedStates, type FlowRunEvent, type ManualTaskInstanceState, type TaskInstanceState } from '../../machines/index.ts';
import type { Decorator, DecoratorEvent } from '../decorators/types.ts';
import { RunCancelledError, TaskInstanceNotFoundError, TaskTimeoutError, toError, UnstorableValueError } from '../errors.ts';
import { KeptValues } from './values/keptValues.ts';
import { suggest } from '../suggest.ts';
import { graphOf } from '../flow/graph.ts';
import type { Flow, TaskRef } from '../flow/types.ts';
import { ListenerDispatcher } from '../listeners/dispatch.ts';
import { runListenersFor } from '../listeners/runListeners.ts';
import type { FlowRunRecord, TaskInstanceRecord } from '../records.ts';
import type { Store } from '../stores/index.ts';
import type { AttemptHost } from './attempt/attemptContext.ts';
import { AttemptExecutor } from './attempt/attemptExecutor.ts';
import type { AttemptOutcome } from './attempt/attemptOutcome.ts';
import { applyOutcome, type OutcomeContext } from './scheduling/outcomeEvents.ts';
import type { AttemptRun, TaskInstance } from './instances/taskInstance.ts';
import { AttemptScopes } from './attempt/attemptScopes.ts';
import { DecoratorPipeline } from './attempt/decoratorPipeline.ts';
import { ChildCalls } from './control/childCalls.ts';
import { ManualControl } from './control/manualControl.ts';
import type { ClearOptions, FlowRunStats } from './handle.ts';
import { InstanceTable } from './instances/instanceTable.ts';
import { ChangeBus } from './lifecycle/changeBus.ts';
import { Lifecycle } from './lifecycle/lifecycle.ts';
import { openRun } from './opening/openRun.ts';
import { RunOwnership } from './opening/ownership.ts';
import { ControlRequests } from './control/controlRequests.ts';
import { recoverRun } from './opening/recovery.ts';
import { restoreInstances } from './opening/restoreInstances.ts';
import { RunPhase } from './runPhase.ts';
import { Admission } from './scheduling/admission.ts';
import { DependencyTracker } from './scheduling/dependencyTracker.ts';
import { GateRounds } from './scheduling/gateRounds.ts';
import { Scheduler } from './scheduling/scheduler.ts';
import { Wakeups } from './scheduling/wakeups.ts';
import type { FlowRunSettings } from './settings.ts';
import { DecoratorActors } from './subscribers/decoratorActors.ts';
import { Notifications, type ChangeObserver } from './subscribers/notifications.ts';
import type { RunPersistence } from './subscribers/persistence.ts';
import { RunCompletion } from './completion.ts';
import { applyControl } from './control/applyControl.ts';
import { applyInterruption } from './scheduling/outcomeEvents.ts';
import type { Executor } from './attempt/attemptExecutor.ts';
import { WorkerExecutor } from './remote/workerExecutor.ts';
import { definitionHash } from '../flow/flowShape.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import type { LaunchState } from './remote/launchTable.ts';
import { hostname } from 'node:os';
import { processExists } from '../processExists.ts';

/** At most this long (ms) between a `ctx().log` line and the commit that stores it. */
const LOG_FLUSH_MS = 200;

/**
 * One flow run: the composition root of the runtime. It wires the collaborators — the lifecycle
 * (the only place events are applied) and its change bus, the instance table, dependency tracking,
 * admission and the scheduler's turn loop, wake-ups, gate rounds, the attempt executor, manual
 * control, child calls, and the bus's subscribers (persistence, listeners and observers, decorator
 * actors) — backs the run's handle, maps each attempt's outcome to its lifecycle event, and carries
 * the run through its phases, which are the flow-run actor's state ({@link RunPhase}): open,
 * begin, cancel, shut down, end, let go.
 *
 * (It is longer than the other rooms because it is the composition root: about a third of it is
 * the wiring of the collaborators, each given only the callbacks it needs.)
 */
export class FlowRun {
  readonly flow: Flow;
  readonly settings: FlowRunSettings;
  readonly runId: string;
  readonly #bus: ChangeBus;
  readonly #table: InstanceTable;
  readonly #lifecycle: Lifecycle;
  readonly #admission: Admission;
  readonly #scheduler: Scheduler;
  readonly #deps: DependencyTracker;
  readonly #wakeups: Wakeups;
  readonly #gates: GateRounds;
  readonly #pipeline: DecoratorPipeline;
  readonly #executor: Executor;
  /** With `executor: 'workers'`: the same object as `#executor`. */
  readonly #workers: WorkerExecutor | undefined;
  readonly #children: ChildCalls;
  readonly #control: ManualControl;
  readonly #dispatcher: ListenerDispatcher | undefined;
  readonly #notifications: Notifications;
  readonly #decoratorActors: DecoratorActors;
  /** The flow-run actor; `undefined` while the run is being opened from its store. */
  #phase: RunPhase | undefined;
  #persistence: RunPersistence | undefined;
  #opened: Promise<void> = Promise.resolve();
  #input: unknown;
  #startedAt: number | undefined;
  #endedAt: number | undefined;
  readonly #completion = new RunCompletion();
  #pendingCancel: string | undefined;
  #shutdown: Promise<FlowRunRecord> | undefined;
  /** With a store: this process's lease on the run. */
  #ownership: RunOwnership | undefined;
  /** With a store: manual changes other processes ask of this run. */
  #controlRequests: ControlRequests | undefined;
  #checkingLease = false;
  /**
   * The process that drove this run before stopped uncleanly (its lease was never released): every
   * attempt's body then starts only once its `START` is stored. An attempt counts as interrupted
   * only when its start was stored; a normal run stores starts with its turn's commit, so a body
   * that kills its process within that turn goes uncounted once — from the first resume on, a task
   * that kills its process every time is counted, and fails past maxInterruptions. Instances
   * interrupted before also run alone then (see `Admission`), so their siblings are not charged.
   */
  #careful = false;
  /** How values passed between tasks are kept (copied, frozen, checked for the store). */
  readonly #values: KeptValues;

  constructor(flow: Flow, settings: FlowRunSettings) {
    this.flow = flow;
    this.settings = settings;
    this.runId = settings.runId;
    this.#values = new KeptValues(settings.store !== undefined);
    // (With a store, the input is kept once the run is opened: as stored.)
    this.#input = settings.store === undefined ? this.#values.input(settings.input) : settings.input;
    const { clock, log } = settings;
    const bus = (this.#bus = new ChangeBus(clock));
    this.#table = new InstanceTable(flow, settings.maxInterruptions);
    this.#lifecycle = new Lifecycle(bus, clock);
    this.#admission = new Admission(settings.concurrency);
    const recorder = {
      touch: (instance: TaskInstance) => this.#persistence?.touch(instance),
      remove: (instance: TaskInstance) => this.#persistence?.remove(instance),
    };
    this.#deps = new DependencyTracker(flow, graphOf(flow), this.#table, this.#lifecycle, this.#admission, recorder);
    this.#wakeups = new Wakeups(clock, this.#lifecycle, this.#admission, {
      endDeferral: (instance, how) => this.#control.endDeferral(instance, how),
      attemptTimedOut: (run, ms) => {
        this.#executor.endNow(run, new TaskTimeoutError(run.instance.key, ms));
        this.#requestTurn();
      },
      touch: recorder.touch,
      armed: () => this.#phase?.active === true,
      requestTurn: () => this.#requestTurn(),
      log,
    });
    const run = this;
    this.#outcomeContext = {
      lifecycle: this.#lifecycle,
      wakeups: this.#wakeups,
      clock,
      // (Read when the outcome is applied, as it was passed before.)
      get stopping(): boolean {
        return run.#phase?.phase === 'stopping';
      },
    };
    this.#gates = new GateRounds(settings.gates, log, this.#lifecycle, this.#wakeups, {
      admit: (instance) => this.#scheduler.admit(instance),
      requestTurn: () => this.#requestTurn(),
    });
    this.#scheduler = new Scheduler({
      host: {
        phase: () => this.#phase,
        finish: (event) => this.#finish(event),
        waiting: () => {
          void this.#commit().catch(() => {});
          void Promise.all([this.#drainListeners(), this.#persistence?.settled()]).then(() => this.#completion.notifySettled(this.snapshot()));
        },
        commit: () => this.#commit(),
        input: () => this.#input,
        launchAfterCommit: () => this.#careful,
        mayStart: () => this.#mayStart(),
        customContext: settings.customContext,
        clock,
        log,
      },
      table: this.#table,
      lifecycle: this.#lifecycle,
      deps: this.#deps,
      admission: this.#admission,
      gates: this.#gates,
      wakeups: this.#wakeups,
    });
    this.#pipeline = new DecoratorPipeline(flow, this.runId, log);
    this.#children = new ChildCalls(flow, this.runId, this.#table, clock, {
      ready: (child) => this.#admission.enqueueReady(child),
      rerun: (child) => {
        this.#reopen();
        this.#control.resetToNone(child);
      },
      requestTurn: () => this.#requestTurn(),
      store: () => this.#persistence?.store,
      leaseToken: () => this.#persistence?.leaseToken,
      log,
    });
    const contextHost: AttemptHost = {
      flowId: flow.id,
      runId: this.runId,
      log: (run, parts) => this.#taskLog(run, format(...parts), clock.now()),
      callChild: (parent, ref, input, customContext) => this.#callChild(parent, ref, input, customContext),
      loadCheckpoint: (run) => this.#children.loadCheckpoint(run),
      saveCheckpoint: (run, value) => this.#children.saveCheckpoint(run, value),
    };
    this.#workers = settings.executor === 'workers' ? this.#workerExecutor(settings.store as PostgresStore) : undefined;
    this.#executor = this.#workers ?? new AttemptExecutor(
      {
        report: (run, outcome) => this.#report(run, outcome),
        keepResult: (run, value) => this.#values.result(run.instance.key, value),
        released: (run) => this.#scheduler.released(run),
        settling: (delta) => this.#scheduler.settling(delta),
        wouldRetry: (run, failFast) => this.#lifecycle.wouldLeadTo(run.instance, { type: 'FAIL', failFast }) === 'up_for_retry',
        requestTurn: () => this.#requestTurn(),
        log,
      },
      this.#pipeline,
      contextHost,
    );
    this.#scheduler.useExecutor(this.#executor);
    this.#control = new ManualControl({
      lifecycle: this.#lifecycle,
      table: this.#table,
      deps: this.#deps,
      admission: this.#admission,
      wakeups: this.#wakeups,
      gates: this.#gates,
      executor: this.#executor,
      host: { instance: (key) => this.#instanceFor(key), reopen: () => this.#reopen(), requestTurn: () => this.#requestTurn() },
    });
    this.#decoratorActors = new DecoratorActors({ flow, bus, clock, log, onRequest: (decorator, request) => this.#onDecoratorRequest(decorator, request) });
    this.#dispatcher = settings.listeners.length > 0 ? new ListenerDispatcher(settings.listeners, log, clock) : undefined;

    // The change bus's subscribers, in the order they hear of a transition.
    bus.subscribe(this.#table.onTransition);
    if (this.#decoratorActors.any) bus.subscribe((instance) => this.#decoratorActors.spawnFor(instance, this.#phase!.actor));
    this.#notifications = new Notifications(bus, this.#dispatcher, log);
    if (flow.tasks.some((task) => task.decorators.length > 0)) bus.subscribe(this.#taskFinished);
    bus.subscribe(this.#deps.onTransition);
    bus.subscribe(this.#children.onTransition);
  }

  // ————— opening —————

  /** Opens the run (in its store, if it has one) and begins it. */
  start(): void {
    const store = this.settings.store;
    if (store === undefined) {
      this.#phase = new RunPhase(undefined, () => this.#decoratorActors.stopAll());
      if (!this.settings.paused) this.#begin(false);
      return;
    }
    this.#opened = this.#open(store).catch((error: unknown) => {
      this.#completion.fail(toError(error));
      throw error;
    });
    this.#opened.catch(() => {});
  }

  /** Resolves when the run has been opened (created in, or restored from, its store). */
  ready(): Promise<void> {
    return this.#opened;
  }

  async #open(store: Store): Promise<void> {
    const { log } = this.settings;
    const ownership = new RunOwnership({
      store,
      runId: this.runId,
      ttlMs: this.settings.leaseTtl,
      clock: this.settings.clock,
      onLost: (error) => this.#onStoreFailure(error),
      log,
    });
    // Nothing is read or written before this process owns the run (RunOwnedError otherwise).
    const { tookOverFrom } = await ownership.acquire();
    this.#ownership = ownership;
    this.#careful = tookOverFrom !== undefined;
    // (On workers no task body runs in the driver, so a driver's death says nothing about them:
    // instances interrupted by a lost worker run again side by side, as they do while it lives.)
    if (this.#careful && this.settings.executor === 'local') this.#admission.runsAlone = (instance) => instance.context.interruptions > 0;
    if (tookOverFrom !== undefined) {
      const { owner, heartbeatAt } = tookOverFrom;
      const why = owner.host === hostname() && !processExists(owner.pid) ? 'that process no longer exists' : 'its lease had expired';
      log(`taskmachine: took over run '${this.runId}' from pid ${owner.pid} on ${owner.host}, last seen at ${new Date(heartbeatAt).toISOString()} (${why})`);
    }
    let opened: Awaited<ReturnType<typeof openRun>>;
    try {
      opened = await openRun(store, this.flow, this.settings, this.settings.clock, (error) => this.#onStoreFailure(error), ownership.token);
    } catch (error) {
      await ownership.release();
      throw error;
    }
    ownership.startHeartbeat();
    this.#persistence = opened.persistence;
    this.#controlRequests = new ControlRequests(store, this.runId, {
      apply: (request) =>
        applyControl(
          {
            runId: this.runId,
            setState: (key, state) => this.setState(key, state),
            clear: (key, options) => this.clear(key, options),
            resumeTask: (key, payload) => this.resumeTask(key, payload),
            sendEvent: (key, payload) => this.sendEvent(key, payload),
            cancel: (reason) => this.cancel(reason),
            stateOf: (key) => this.#table.get(key)?.state,
            runState: () => this.#phase?.state ?? 'queued',
          },
          request,
        ),
      settle: (settlement) => {
        this.#persistence?.settleControl(settlement);
        void this.#commit().catch(() => {});
      },
      inOneBatch: (applyAndSettle) => {
        const persistence = this.#persistence;
        if (persistence === undefined) applyAndSettle();
        else persistence.inOneBatch(applyAndSettle, () => this.settings.clock.now());
      },
      now: () => this.settings.clock.now(),
      log,
    });
    this.#bus.subscribe(opened.persistence.onTransition);
    const workers = this.#workers;
    if (workers !== undefined) {
      opened.persistence.within = (batch) => workers.within(batch);
      opened.persistence.committedWithin = () => workers.committed();
    }
    this.#input = this.#values.input(opened.input);
    workers?.opened(opened.inputStored);
    const loaded = opened.loaded;
    if (loaded !== undefined) {
      this.#startedAt = loaded.run.startedAt;
      restoreInstances(loaded, this.flow, this.#table, this.#deps);
      if (workers !== undefined) {
        const running = loaded.instances.filter((instance) => instance.state === 'running').map((instance) => instance.key);
        for (const launch of await workers.latestLaunches(running)) this.#launches.set(launch.key, launch);
      }
    }
    const stored = loaded === undefined ? undefined : { state: loaded.run.state, reason: loaded.run.reason };
    const phase = (this.#phase = new RunPhase(stored, () => this.#decoratorActors.stopAll()));
    if (this.settings.paused) {
      if (phase.state === 'running') phase.send({ type: 'PAUSE' });
      return;
    }
    this.#begin(loaded !== undefined);
  }

  /** The run starts (or continues, `recover`ing what its stored states say was in progress). */
  #begin(recover: boolean): void {
    const phase = this.#phase!;
    this.#startedAt ??= this.settings.clock.now();
    if (phase.finished) phase.send({ type: 'RERUN' });
    if (phase.state === 'queued') phase.send({ type: 'START' });
    this.#workers?.begin();
    if (this.#dispatcher !== undefined) {
      const flowRun = this.snapshot();
      this.#addRunListeners(this.#dispatcher, flowRun, recover);
      this.#dispatcher.emit('onStarting', { flowRun });
      this.#dispatcher.emit('onFlowRunRunning', { flowRun, msg: 'started' });
    }
    if (recover) {
      recoverRun({
        table: this.#table,
        lifecycle: this.#lifecycle,
        admission: this.#admission,
        wakeups: this.#wakeups,
        gates: this.#gates,
        admit: (instance) => this.#scheduler.admit(instance),
        reused: (instance) => this.#runTaskFinished(instance, true),
        reattach: (instance) => {
          const workers = this.#workers;
          if (workers === undefined || !workers.reattach(instance, this.#launches.get(instance.key))) return false;
          this.#admission.attemptStarted(instance);
          // The task's timeout counts again from here (the attempt's start time died with its driver).
          const { timeout } = instance.task;
          if (timeout !== undefined && instance.current !== undefined) this.#wakeups.startDeadline(instance.current, timeout);
          return true;
        },
      });
      this.#launches.clear();
    }
    this.#persistence?.updateRun(this.#runFields(), this.settings.clock.now());
    this.#controlRequests?.start();
    if (this.#pendingCancel !== undefined) this.cancel(this.#pendingCancel);
    this.#requestTurn();
  }

  /**
   * The listeners' `forRun`: their run listeners hear of this run from now on, their labels are
   * stored with it, and their `aroundAttempt` scopes wrap every attempt. Called synchronously
   * where the run begins, so a listener sees the async context of the code that started the run.
   */
  #addRunListeners(dispatcher: ListenerDispatcher, flowRun: FlowRunRecord, resumed: boolean): void {
    const { settings } = this;
    const labels = this.#persistence?.run.labels ?? settings.labels;
    const found = runListenersFor(settings.listeners, { flow: this.flow, flowRun, labels, resumed, clock: settings.clock }, settings.log);
    for (const listener of found.listeners) dispatcher.add(listener);
    if (found.labels !== undefined) this.#persistence?.addLabels(found.labels, settings.clock.now());
    if (found.scopes.length > 0 || found.carriers.length > 0) this.#executor.useScopes(new AttemptScopes(found.scopes, settings.log, found.carriers));
  }

  /**
   * New attempts start only while this process's lease is certainly its own: after a pause longer
   * than the lease lives (the process was stopped), a renewal must first say it still is — a run
   * taken over meanwhile starts nothing more here.
   */
  #mayStart(): boolean {
    const ownership = this.#ownership;
    if (ownership === undefined) return true;
    // A reopened run that is taking its lease again starts nothing before it has it.
    if (ownership.token === undefined) return false;
    if (ownership.fresh(this.settings.clock.now())) return true;
    if (!this.#checkingLease) {
      this.#checkingLease = true;
      void ownership.renewNow().finally(() => {
        this.#checkingLease = false;
        this.#requestTurn();
      });
    }
    return false;
  }

  /** A finished run that gets work again (a clear, a manual set): `RERUN`, then on. */
  #reopen(): void {
    const phase = this.#phase!;
    if (!phase.finished) return;
    phase.send({ type: 'RERUN' });
    // Opened for manual changes only: it stays queued until it is resumed.
    if (!this.settings.paused) phase.send({ type: 'START' });
    this.#endedAt = undefined;
    this.#completion.reopened();
    const ownership = this.#ownership;
    if (ownership !== undefined && ownership.token === undefined) {
      // The run's end let go of its lease: take it again before anything more is written.
      const persistence = this.#persistence;
      persistence?.waitFor(
        ownership.acquire().then(() => {
          persistence.fence(ownership.token);
          ownership.startHeartbeat();
          this.#controlRequests?.start();
          this.#requestTurn();
        }),
      );
    }
    this.#persistence?.updateRun(this.#runFields(), this.settings.clock.now());
  }

  #instanceFor(key: string): TaskInstance {
    if (this.#phase === undefined) {
      throw new Error(`run '${this.runId}' is still being opened from its store; await handle.ready() before changing task instances`);
    }
    const instance = this.#table.get(key);
    if (instance !== undefined) return instance;
    const known = [...this.#table.keys()];
    throw new TaskInstanceNotFoundError(this.runId, key, known, suggest(key, known));
  }

  // ————— the handle's operations —————

  get done(): Promise<FlowRunRecord> {
    return this.#completion.done;
  }

  /** Resolves when the run finishes, or when it cannot progress without `resumeTask`/`sendEvent`. */
  settled(): Promise<FlowRunRecord> {
    // (A run let go of takes no further turn here: `done` holds the record it was left with.)
    if (this.#completion.failure !== undefined || this.#phase?.finished === true || this.#phase?.phase === 'detached') return this.#completion.done;
    const settled = this.#completion.waitSettled();
    // A run that already waits takes no further turn by itself: take one to notice it.
    this.#requestTurn();
    return settled;
  }

  /**
   * Resolves once everything this run changed so far is in the store (immediately without one)
   * and the listeners have received every hook call so far.
   */
  async persisted(): Promise<void> {
    await this.#opened;
    const persistence = this.#persistence;
    if (persistence !== undefined) {
      await persistence.flush(this.settings.clock.now());
      if (persistence.failure) throw persistence.failure;
    }
    await this.#drainListeners();
  }

  subscribe(observer: ChangeObserver): () => void {
    return this.#notifications.subscribe(observer);
  }

  snapshot(): FlowRunRecord {
    const tasks: Record<string, TaskInstanceRecord> = {};
    const waitingOn: string[] = [];
    const phase = this.#phase;
    const running = phase?.state === 'running';
    for (const instance of this.#table.values()) {
      tasks[instance.key] = instance.toRecord();
      if (running && instance.parked) waitingOn.push(instance.key);
    }
    return makeRunRecord({
      flowId: this.flow.id,
      runId: this.runId,
      state: phase?.state ?? 'queued',
      reason: phase?.reason ?? null,
      tasks: Object.freeze(tasks),
      waitingOn: Object.freeze(waitingOn),
      startedAt: this.#startedAt,
      endedAt: this.#endedAt,
    });
  }

  taskInstance(key: string): TaskInstanceRecord | undefined {
    return this.#table.get(key)?.toRecord();
  }

  stats(): FlowRunStats {
    return Object.freeze({
      states: Object.freeze(this.#table.stateCounts()),
      turns: this.#scheduler.turns,
      triggerEvaluations: this.#deps.evaluations,
      actorsCreated: this.#lifecycle.actorsCreated,
      decoratorActors: this.#decoratorActors.alive,
    });
  }

  setState(key: string, state: ManualTaskInstanceState): void {
    this.#control.setState(key, state);
  }

  /** Clears `key` (and its downstream / upstream, as asked); returns the keys it cleared. */
  clear(key: string, options: ClearOptions = {}): string[] {
    return this.#control.clearWith(key, options);
  }

  resumeTask(key: string, payload?: unknown): void {
    const kept = this.#values.keep(payload);
    if (!kept.ok) throw kept.error;
    this.#control.resumeTask(key, kept.value);
  }

  sendEvent(key: string, payload?: unknown): void {
    const kept = this.#values.keep(payload);
    // (A payload the store cannot keep is refused here, naming its path, before anything changes.)
    if (!kept.ok) throw kept.error;
    this.#control.sendEvent(key, kept.value);
  }

  /**
   * Cancels the run: timers and gates are dropped, running attempts end with a `RunCancelledError`
   * (their decorators settle them as usual), and once none is left the run fails `cancelled`. A
   * finished run is left as it is; a run still being opened is cancelled as soon as it is open.
   */
  cancel(reason = 'the run was cancelled'): void {
    const phase = this.#phase;
    if (phase === undefined) {
      this.#pendingCancel = reason;
      return;
    }
    if (phase.finished) return;
    phase.send({ type: 'CANCEL' });
    if (phase.finished) {
      // Cancelled before it started: nothing ran.
      this.#ended();
      return;
    }
    const error = new RunCancelledError(reason);
    for (const instance of this.#table.values()) {
      this.#wakeups.clear(instance);
      this.#gates.abort(instance, error);
    }
    for (const instance of [...this.#table.values()]) {
      if (instance.current !== undefined) this.#executor.endNow(instance.current, error);
    }
    this.#scheduler.checkProgress();
    this.#requestTurn();
  }

  /**
   * Graceful shutdown: nothing new starts, running attempts are aborted with reason `'preempt'`
   * (task code may answer with `TaskCheckpointed`), and the run waits up to `graceMs` for them.
   * Attempts that end in time are recorded as usual, but a failure is a graceful interruption
   * (stored `scheduled`, not counted toward `maxInterruptions`); those still running after the
   * grace period are abandoned and interrupted the same way; timers keep their stored deadlines.
   * Then the run lets go of its store. Resolves with the run (still `running`) once everything is
   * in the store.
   */
  shutdown(graceMs: number): Promise<FlowRunRecord> {
    this.#shutdown ??= this.#shutDown(graceMs);
    return this.#shutdown;
  }

  async #shutDown(graceMs: number): Promise<FlowRunRecord> {
    await this.#opened.catch(() => undefined);
    const phase = this.#phase;
    if (phase === undefined || this.#completion.failure !== undefined) return this.#completion.done;
    if (phase.finished) {
      // Ended in this process: its end lets go of the run, and `done` resolves.
      if (this.#endedHere) return this.#completion.done;
      // Opened finished (for manual changes that were refused, or to look at it): nothing ends
      // here, so `done` would never resolve; just let go of the run and its lease.
      await this.persisted();
      await this.#detach();
      return this.#letGo();
    }
    const wasActive = phase.active;
    if (wasActive) {
      phase.send({ type: 'SHUTDOWN' });
      for (const instance of this.#table.values()) {
        this.#wakeups.clear(instance, true);
        this.#gates.abort(instance, 'preempt');
        instance.current?.abort('preempt');
      }
    }
    // (A run that is only inspected, or queued after a manual change, has nothing in flight.)
    await this.#scheduler.quietOrAfter(graceMs);
    if (phase.finished) return this.#completion.done;
    // Attempts in this process that outlived the grace period: interrupted now, gracefully (stored
    // `scheduled`, not counted toward maxInterruptions — a stop is not a crash). Their outcomes,
    // should they still come, are stale. (Attempts on workers go on there: nothing to interrupt.)
    if (wasActive && this.#workers === undefined) {
      const overdue = new Error(`the attempt did not end within the shutdown's grace period (${graceMs} ms)`);
      for (const instance of this.#table.values()) {
        if (instance.state !== 'running') continue;
        // Abandoned first (as for a manual change: its decorators see it end, its outcome is never
        // applied, and a body still waiting for its START to be stored never starts), then interrupted.
        const run = instance.current;
        if (run !== undefined && !run.settled) this.#executor.discard(run, overdue);
        if (instance.current === run) instance.current = undefined;
        applyInterruption(instance, this.#lifecycle, 'its process was shut down', true);
      }
    }
    // The process is going away: listeners get their last hook, as at the end of a run.
    if (wasActive) this.#dispatcher?.emit('beforeStopping', { flowRun: this.snapshot() });
    await this.persisted();
    await this.#detach();
    return this.#letGo();
  }

  /** The record of a run this process let go of; `done` and `settled()` resolve with it. */
  #letGo(): FlowRunRecord {
    const record = this.snapshot();
    this.#completion.letGo(record);
    return record;
  }

  // ————— outcomes → lifecycle events —————

  /** The lifecycle event for an attempt's outcome. */
  #report(run: AttemptRun, outcome: AttemptOutcome): void {
    const instance = run.instance;
    const phase = this.#phase;
    // A stale outcome (the instance was cleared or set by hand meanwhile) or a run let go of.
    if (instance.state !== 'running' || instance.context.attempt !== run.attempt || phase === undefined || phase.phase === 'detached') return;
    try {
      applyOutcome(instance, run, this.#kept(instance, outcome), this.#outcomeContext);
    } catch (error) {
      this.settings.log(`taskmachine: internal error settling '${instance.key}': ${toError(error).stack}`);
    }
  }

  /** What {@link applyOutcome} needs, made once (an outcome is applied for every attempt). */
  readonly #outcomeContext: OutcomeContext;

  /** The outcome with its error and checkpoint data as the run keeps them (see `KeptValues`). */
  #kept(instance: TaskInstance, outcome: AttemptOutcome): AttemptOutcome {
    if (outcome.kind === 'failed') return { ...outcome, error: this.#values.error(outcome.error) };
    if (outcome.kind !== 'checkpointed') return outcome;
    const kept = this.#values.keep(outcome.data);
    if (kept.ok) return { kind: 'checkpointed', data: kept.value };
    const error = new UnstorableValueError(`task instance '${instance.key}' checkpointed data that`, kept.error);
    return { kind: 'failed', error, failureKind: 'application', failFast: true };
  }

  #onDecoratorRequest(decorator: Decorator<any>, request: DecoratorEvent): void {
    if (request?.type !== 'ABORT_ATTEMPT') {
      this.settings.log(`taskmachine: decorator '${decorator.name}' sent an unknown event ${JSON.stringify(request)}`);
      return;
    }
    const run = this.#table.get(request.taskKey)?.current;
    if (run === undefined || run.attempt !== request.attempt || run.settled) return;
    this.#executor.endNow(run, request.error);
    this.#requestTurn();
  }

  /** `onTaskFinished` of a decorated instance that reached a finished state: subscribed to the bus. */
  readonly #taskFinished = (instance: TaskInstance, previousState: TaskInstanceState, state: TaskInstanceState): void => {
    if (!instance.created || !finishedStates.has(state) || finishedStates.has(previousState)) return;
    this.#runTaskFinished(instance, false);
  };

  #runTaskFinished(instance: TaskInstance, isCloned: boolean): void {
    this.#scheduler.settling(1);
    void this.#pipeline.taskFinished(instance, isCloned).finally(() => this.#scheduler.settling(-1));
  }

  #requestTurn(): void {
    this.#scheduler.requestTurn();
  }

  /** `ctx().call` of an attempt, here or on a worker (`index`: see `ChildCalls.call`). */
  #callChild(parent: AttemptRun, ref: TaskRef<unknown>, input: unknown, customContext: Readonly<Record<string, string>>, index?: number): Promise<unknown> {
    const kept = this.#values.keep(input);
    if (!kept.ok) return Promise.reject(new UnstorableValueError(`the input of a ctx().call from '${parent.instance.key}'`, kept.error));
    return this.#children.call(parent, ref, kept.value, customContext, index);
  }

  /** The newest stored launch of each instance stored `running`, while an adopted run is opened. */
  readonly #launches = new Map<string, LaunchState>();

  /** `executor: 'workers'`: attempts go to worker processes; their outcomes come back here. */
  #workerExecutor(store: PostgresStore): WorkerExecutor {
    const { clock, log } = this.settings;
    return new WorkerExecutor(
      {
        report: (run, outcome) => this.#report(run, outcome),
        released: (run) => this.#scheduler.released(run),
        keepResult: (run, value) => this.#values.result(run.instance.key, value),
        interrupted: (run, how, graceful) => {
          const instance = run.instance;
          if (instance.state !== 'running' || instance.context.attempt !== run.attempt || this.#phase?.active !== true) return;
          if (applyInterruption(instance, this.#lifecycle, how, graceful) === 'scheduled') this.#admission.toQueue.push(instance);
          this.#requestTurn();
        },
        upstreamRefs: (instance) => (instance.isChild ? [] : this.#deps.upstreamRefs(instance.task)),
        touch: (instance) => this.#persistence?.touch(instance),
        requestTurn: () => this.#requestTurn(),
        log,
        attemptLog: (run, line, at) => this.#taskLog(run, line, at, true),
        callChild: (parent, ref, input, customContext, index) => this.#callChild(parent, ref, input, customContext, index),
        committed: async () => {
          const persistence = this.#persistence;
          if (persistence === undefined) return;
          await persistence.flush(clock.now());
          if (persistence.failure) throw persistence.failure;
        },
      },
      { store, runId: this.runId, flowId: this.flow.id, flowHash: definitionHash(this.flow), now: () => clock.now() },
    );
  }

  /** A pending flush of stored log lines, when no turn commits them first. */
  #logFlush: ReturnType<typeof setTimeout> | undefined;

  /** A `ctx().log` line of an attempt (here, or on a worker): printed, stored, given to listeners. */
  #taskLog(run: AttemptRun, message: string, at: number, fromWorker = false): void {
    this.settings.log(`[${run.instance.key}#${run.attempt}] ${message}`);
    this.#storeLogLine(run, message, at, fromWorker);
    if (this.#dispatcher?.has('onTaskInstanceLog') === true) {
      this.#dispatcher.emit('onTaskInstanceLog', { taskKey: run.instance.key, taskId: run.instance.task.id, attempt: run.attempt, message, at });
    }
  }

  /**
   * Keeps a `ctx().log` line for the store: it goes with the next turn's batch, or — for a task
   * that logs while nothing else changes — with a commit at most {@link LOG_FLUSH_MS} later, so
   * `taskmachine logs --follow` sees it. Lines logged once the run ended are not stored.
   */
  #storeLogLine(run: AttemptRun, message: string, at: number, alreadyBounded: boolean): void {
    const persistence = this.#persistence;
    if (persistence === undefined || this.#phase?.finished !== false) return;
    persistence.log(run.instance, run.attempt, message, at, alreadyBounded);
    if (this.#logFlush !== undefined) return;
    // (Not the run's clock: this only bounds how late a reader sees the line; it is unref'd.)
    this.#logFlush = setTimeout(() => {
      this.#logFlush = undefined;
      if (this.#phase?.finished === false && persistence.logsPending) void this.#commit().catch(() => {});
    }, LOG_FLUSH_MS);
    this.#logFlush.unref();
  }

  /** Group commit: everything changed since the last commit goes to the store in one batch. */
  #commit(): Promise<void> {
    const persistence = this.#persistence;
    if (persistence === undefined) return Promise.resolve();
    return persistence.flush(this.settings.clock.now()).then(() => {
      if (persistence.failure !== undefined) throw persistence.failure;
    });
  }

  // ————— the end —————

  #finish(event: FlowRunEvent): void {
    this.#phase!.send(event);
    this.#ended();
  }

  /** Whether the run reached its (latest) end in this process (not: was opened finished). */
  #endedHere = false;

  /** The run reached success or failed: timers and actors stop, the store and listeners hear of it. */
  #ended(): void {
    const phase = this.#phase!;
    this.#endedHere = true;
    this.#endedAt = this.settings.clock.now();
    for (const instance of this.#table.values()) {
      this.#wakeups.clear(instance);
      this.#lifecycle.release(instance);
    }
    phase.stop();
    this.#scheduler.stopped();
    this.#persistence?.updateRun(this.#runFields(), this.#endedAt);
    void this.#persistence?.flush(this.#endedAt);
    const record = this.snapshot();
    const done = this.#completion.current();
    const ending = this.#afterEnd(record);
    // A decorator's runFinished that never settles must not leave `done` pending with nothing
    // holding the process (the CLI exited 13, "unsettled top-level await").
    this.#scheduler.holdWhile(ending);
    void ending.then(
      () => {
        const failure = this.#persistence?.failure;
        if (failure !== undefined) this.#completion.fail(failure);
        else this.#completion.finished(done, record);
      },
      (error: unknown) => {
        this.settings.log(`taskmachine: internal error finishing run '${this.runId}': ${toError(error).stack}`);
        this.#completion.finished(done, record);
      },
    );
  }

  /** Flow-run hooks, `beforeStopping`, every decorator's `runFinished`, then the listeners' queues. */
  async #afterEnd(record: FlowRunRecord): Promise<void> {
    const dispatcher = this.#dispatcher;
    if (dispatcher !== undefined) {
      if (record.state === 'success') dispatcher.emit('onFlowRunSuccess', { flowRun: record, msg: 'success' });
      else dispatcher.emit('onFlowRunFailed', { flowRun: record, msg: record.reason ?? 'failed' });
      dispatcher.emit('beforeStopping', { flowRun: record });
    }
    await this.#persistence?.settled();
    // A clean end: the run is let go of (a reopened run takes its lease again).
    if (this.#phase?.finished === true) {
      this.#controlRequests?.stop();
      await this.#ownership?.release();
    }
    if (this.#phase?.finished === true) this.#executor.stop?.();
    await this.#pipeline.runFinished(record);
    await this.#drainListeners();
  }

  /**
   * This process lets go of the run: nothing it still does is applied or written, and its lease is
   * released (a run that is only queued or inspected has no phase to leave: it is just let go).
   */
  async #detach(stoppedBy?: Error): Promise<void> {
    this.#controlRequests?.stop();
    const phase = this.#phase;
    if (phase !== undefined && phase.can({ type: 'DETACH' })) phase.send({ type: 'DETACH' });
    this.#persistence?.detach();
    for (const instance of this.#table.values()) {
      this.#wakeups.clear(instance, true);
      // An attempt that outlived the shutdown's grace: its `timeout` would only keep the process
      // alive to end an outcome nobody applies any more.
      if (instance.current !== undefined) this.#wakeups.endDeadline(instance.current);
      this.#lifecycle.release(instance);
    }
    phase?.stop();
    this.#scheduler.stopped();
    this.#executor.stop?.();
    await this.#ownership?.release(stoppedBy);
  }

  /** A commit failed (conflict, disk full, …): the run cannot stay consistent, so it stops here. */
  #onStoreFailure(error: Error): void {
    this.settings.log(`taskmachine: run '${this.runId}' stopped: the store refused a write: ${error.message}`);
    for (const instance of this.#table.values()) {
      this.#gates.abort(instance, error);
      instance.current?.abort(error);
    }
    void this.#detach(error);
    this.#completion.fail(error);
  }

  #drainListeners(): Promise<void> {
    return this.#dispatcher?.drain(this.settings.listenerTimeout) ?? Promise.resolve();
  }

  #runFields() {
    const phase = this.#phase!;
    return { state: phase.state, reason: phase.reason, startedAt: this.#startedAt, endedAt: this.#endedAt };
  }
}
