import type { FlowRunEvent } from '../../../machines/index.ts';
import { toError } from '../../errors.ts';
import type { TaskArgs } from '../../flow/types.ts';
import { NO_CONTEXT_YET, type Executor } from '../attempt/attemptExecutor.ts';
import { AttemptRun, type TaskInstance } from '../instances/taskInstance.ts';
import type { Clock } from '../../clock.ts';
import type { InstanceTable } from '../instances/instanceTable.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { RunPhase } from '../runPhase.ts';
import type { Admission } from './admission.ts';
import { NO_UPSTREAM, type DependencyTracker } from './dependencyTracker.ts';
import { QUEUE, SCHEDULE, startEvent } from '../lifecycle/events.ts';
import type { GateRounds } from './gateRounds.ts';
import type { Wakeups } from './wakeups.ts';

/**
 * Most attempts a scheduler turn starts before it yields to the event loop (timers, I/O, live
 * views). Counted in work rather than time, so the number of turns is the same on every run.
 */
const TURN_BUDGET_STARTS = 256;

/** What the scheduler needs from the run. */
export interface SchedulerHost {
  /** The run's phase; `undefined` while the run is being opened. */
  phase(): RunPhase | undefined;
  /** Nothing is left to do: the run ends with this flow-run event. */
  finish(event: FlowRunEvent): void;
  /** Only parked instances are left (they wait for a manual resume or an event). */
  waiting(): void;
  /**
   * Group commit: what the turn changed goes to the store as one batch. Resolves once it is
   * stored (at once for a run without a store); rejects when the store refused it.
   */
  commit(): Promise<void>;

  /** The run's input (the stored one for a resume without one). */
  input(): unknown;
  /**
   * Whether attempts' bodies start only once their `START` is stored (see `FlowRun`: after an
   * unclean stop), instead of at once with the `START` stored in the turn's commit.
   */
  launchAfterCommit(): boolean;
  /**
   * Whether new attempts may start now (a durable run: its lease is certainly still held). When
   * not, the host checks its lease and requests a turn once it may.
   */
  mayStart(): boolean;
  readonly customContext: Readonly<Record<string, string>>;
  readonly clock: Clock;
  log(line: string): void;
}

/**
 * The scheduler's turn loop. Work happens in *turns* (one microtask each): settled attempts,
 * timers and manual requests only record what changed and request a turn; a turn evaluates the
 * trigger rules whose counters changed, queues scheduled instances (gates start), schedules ready
 * ones into the window and starts attempts in free slots, until nothing moves; then it checks
 * whether the run is over or waits, and commits. Nothing recurses across instances, so a chain of
 * 100k tasks cannot overflow the stack. It also counts what is in flight (attempts, decorator
 * hooks settling them), which decides when a run is idle, cancelled for good, or quiet enough to
 * shut down.
 */
export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #table: InstanceTable;
  readonly #lifecycle: Lifecycle;
  readonly #deps: DependencyTracker;
  readonly #admission: Admission;
  readonly #gates: GateRounds;
  readonly #wakeups: Wakeups;
  #executor: Executor | undefined;
  /** Turns taken so far. */
  turns = 0;
  #startsTotal = 0;
  #turnRequested = false;
  /** Decorator hooks running now (settling attempts, `onTaskFinished`). */
  #settling = 0;
  #quietWaiters: Array<() => void> = [];
  /** Keeps the process alive while work is in flight (see {@link #keepAlive}). */
  #aliveTimer: ReturnType<typeof setInterval> | undefined;
  /** Work of the run's end still in progress (see {@link holdWhile}). */
  #holds = 0;
  /** Attempts started (`START` applied) whose bodies wait for that to be stored. */
  #launching: Array<{ run: AttemptRun; args: TaskArgs; customContext: Readonly<Record<string, string>> }> = [];
  #inTurn = false;
  /** An attempt started or ended in this turn: {@link #keepAlive} is due at its end. */
  #keepAliveDue = false;

  constructor(parts: {
    host: SchedulerHost;
    table: InstanceTable;
    lifecycle: Lifecycle;
    deps: DependencyTracker;
    admission: Admission;
    gates: GateRounds;
    wakeups: Wakeups;
  }) {
    this.#host = parts.host;
    this.#table = parts.table;
    this.#lifecycle = parts.lifecycle;
    this.#deps = parts.deps;
    this.#admission = parts.admission;
    this.#gates = parts.gates;
    this.#wakeups = parts.wakeups;
  }

  /** The executor attempts are started on (made after the scheduler: it reports back to it). */
  useExecutor(executor: Executor): void {
    this.#executor = executor;
  }

  requestTurn(): void {
    if (this.#turnRequested || this.#host.phase()?.finished === true) return;
    this.#turnRequested = true;
    queueMicrotask(this.#turnCallback);
  }

  readonly #turnCallback = (): void => {
    this.#turnRequested = false;
    this.#inTurn = true;
    try {
      this.#turn();
    } catch (error) {
      // A bug in the runtime must not leave the run hanging or crash the process.
      this.#host.log(`taskmachine: internal error in a scheduler turn: ${toError(error).stack ?? String(error)}`);
      const phase = this.#host.phase();
      if (phase !== undefined && !phase.finished && phase.can({ type: 'FAIL', reason: 'task_failure' })) {
        this.#host.finish({ type: 'FAIL', reason: 'task_failure' });
      }
    } finally {
      this.#inTurn = false;
      if (this.#keepAliveDue) this.#keepAlive();
      this.#launch();
    }
  };

  #turn(): void {
    const phase = this.#host.phase();
    // Nothing moves before the run is opened, after it ended, or while it is only inspected.
    if (phase === undefined || phase.finished) return;
    const step = phase.phase;
    if (step !== 'active' && step !== 'cancelling' && step !== 'stopping') {
      void this.#host.commit().catch(() => {});
      return;
    }
    this.turns++;
    const startsBefore = this.#startsTotal;
    const admission = this.#admission;
    let progressed = true;
    while (progressed && phase.active) {
      progressed = this.#deps.evaluatePending();
      for (let instance = admission.toQueue.shift(); instance !== undefined; instance = admission.toQueue.shift()) {
        if (instance.state === 'scheduled') this.#queue(instance);
        progressed = true;
      }
      for (let instance = admission.takeReady(); instance !== undefined; instance = admission.takeReady()) {
        this.#lifecycle.apply(instance, SCHEDULE);
        // (An observer may have changed it by hand in the meantime.)
        if (instance.state === 'scheduled') this.#queue(instance);
        progressed = true;
      }
      if (admission.hasWaitingForSlot && !this.#host.mayStart()) break;
      for (let instance = admission.takeForSlot(); instance !== undefined; instance = admission.takeForSlot()) {
        this.startAttempt(instance);
        progressed = true;
        if (this.#deps.pending || admission.toQueue.length > 0) break;
      }
      if (progressed && this.#startsTotal - startsBefore >= TURN_BUDGET_STARTS) {
        // (With attempts waiting for their START to be stored, the turn's end commits and launches them.)
        if (this.#launching.length === 0) void this.#host.commit().catch(() => {});
        setImmediate(() => this.requestTurn());
        return;
      }
    }
    this.checkProgress();
    if (this.#launching.length === 0) void this.#host.commit().catch(() => {});
    this.#keepAlive();
  }

  /**
   * Starts the bodies of the attempts this turn started that must wait until their `START` is
   * stored (see {@link SchedulerHost.launchAfterCommit}): once the turn's commit is stored. If the
   * store refuses the commit, they never start (the run stops on that failure).
   */
  #launch(): void {
    if (this.#launching.length === 0) return;
    const batch = this.#launching;
    this.#launching = [];
    const start = () => {
      for (const { run, args, customContext } of batch) {
        // (Cancelled or changed by hand before its start was stored: nothing to run.)
        if (!run.settled && run.instance.current === run) this.#executor!.start(run, args, customContext);
      }
      this.requestTurn();
    };
    this.#host.commit().then(start, (error: unknown) => {
      for (const { run } of batch) if (!run.settled) this.#executor!.discard(run, toError(error));
    });
  }

  /**
   * While the run is driven (active, cancelling or stopping) and attempts run, gates are pending
   * or decorator hooks settle, the run holds a referenced timer: a task whose promise never settles
   * keeps its process alive (instead of Node exiting with "unsettled top-level await", code 13). A
   * run that only waits (timers of its own hold the process anyway; a parked run waits for a
   * person) holds none, and neither does a run that ended or let go: an attempt it abandoned (one
   * that ignored its signal through a shutdown) is no reason to keep an embedding program alive —
   * if the task holds handles of its own, those do. The work of the run's end itself (its decorators'
   * `runFinished`, see {@link holdWhile}) is held too, so that `done` never waits unheld.
   */
  #keepAlive(): void {
    this.#keepAliveDue = false;
    const phase = this.#host.phase()?.phase;
    const driven = phase === 'active' || phase === 'cancelling' || phase === 'stopping';
    const busy = this.#holds > 0 || (driven && (this.#admission.inFlight > 0 || this.#settling > 0 || this.#gates.pending > 0));
    if (busy) {
      if (this.#aliveTimer === undefined) this.#aliveTimer = setInterval(() => {}, 1 << 30);
      else if (!this.#aliveTimer.hasRef()) this.#aliveTimer.ref();
    } else if (this.#aliveTimer !== undefined) {
      // While the run is driven it turns busy and idle again with every attempt: the timer is
      // only unreferenced (cheap), not cleared and re-armed (a timer-list insert each time).
      if (driven) this.#aliveTimer.unref();
      else {
        clearInterval(this.#aliveTimer);
        this.#aliveTimer = undefined;
      }
    }
  }

  /**
   * {@link #keepAlive} after an attempt started or ended: at once outside a turn, at the turn's end
   * inside one (synchronous tasks start and end many times per turn; nothing can exit the process
   * before the turn's end, and checking once there ends in the same state).
   */
  #keepAliveSoon(): void {
    if (this.#inTurn) this.#keepAliveDue = true;
    else this.#keepAlive();
  }

  /** The run ended or let go: it no longer keeps the process alive (see {@link #keepAlive}). */
  stopped(): void {
    this.#keepAlive();
  }

  /**
   * Keeps the process alive until `work` settles: the run's end, whose decorator hooks may wait on
   * something that holds nothing (call it before anything else reacts to `work`, so the hold is
   * gone by the time those reactions run).
   */
  holdWhile(work: Promise<unknown>): void {
    this.#holds++;
    this.#keepAlive();
    const release = () => {
      this.#holds--;
      this.#keepAlive();
    };
    work.then(release, release);
  }

  /** Ends the run when nothing is left to do (or reports that only parked instances are left). */
  checkProgress(): void {
    const phase = this.#host.phase();
    if (phase === undefined || phase.finished) return;
    if (phase.phase === 'cancelling') {
      if (this.#admission.inFlight === 0 && this.#settling === 0) this.#host.finish({ type: 'FAIL', reason: 'cancelled' });
      return;
    }
    if (this.#table.unfinished === 0) {
      this.#host.finish(this.#deps.anyLeafFailed() ? { type: 'FAIL', reason: 'task_failure' } : { type: 'SUCCEED' });
      return;
    }
    if (!phase.active) return;
    const idle =
      this.#admission.inFlight === 0 &&
      this.#wakeups.pending === 0 &&
      this.#admission.empty &&
      !this.#deps.pending &&
      this.#settling === 0 &&
      this.#gates.pending === 0;
    if (!idle) return;
    for (const instance of this.#table.values()) {
      if (!instance.parked) continue;
      this.#host.waiting();
      return;
    }
    this.#host.finish({ type: 'FAIL', reason: 'all_tasks_deadlocked' });
  }

  #queue(instance: TaskInstance): void {
    if (this.#gates.any) {
      // Named before the transition so listeners and views see what the instance waits on.
      this.#gates.announce(instance);
      this.#lifecycle.apply(instance, QUEUE);
      this.#gates.start(instance);
      return;
    }
    this.#lifecycle.apply(instance, QUEUE);
    this.admit(instance);
  }

  /** A queued instance whose gates (if any) passed: a child starts, a DAG task waits for a slot. */
  admit(instance: TaskInstance): void {
    if (instance.isChild) this.startAttempt(instance);
    else this.#admission.enqueueForSlot(instance);
  }

  startAttempt(instance: TaskInstance): void {
    this.#startsTotal++;
    const attempt = instance.context.attempt;
    this.#lifecycle.apply(instance, startEvent(attempt));
    const { clock } = this.#host;
    if (instance.startedAt === undefined) instance.startedAt = clock.now();
    const run = new AttemptRun(instance, attempt);
    instance.current = run;
    this.#admission.attemptStarted(instance);
    this.#keepAliveSoon();
    const task = instance.task;
    if (task.timeout !== undefined) this.#wakeups.startDeadline(run, task.timeout);
    const input = this.#host.input();
    // `ctx` is filled in by the executor, which makes the attempt's context.
    const args: TaskArgs = instance.isChild
      ? { input: instance.callInput, upstream: NO_UPSTREAM, ctx: NO_CONTEXT_YET }
      : instance.mapIndex === undefined
        ? { input, upstream: this.#deps.upstreamValues(task), ctx: NO_CONTEXT_YET }
        : { input, upstream: this.#deps.upstreamValues(task), item: instance.item, mapIndex: instance.mapIndex, ctx: NO_CONTEXT_YET };
    const customContext = instance.customContext ?? this.#host.customContext;
    if (!this.#host.launchAfterCommit()) {
      this.#executor!.start(run, args, customContext);
      return;
    }
    this.#launching.push({ run, args, customContext });
    // Started outside a turn (a child whose gates passed): launched after the next commit.
    if (!this.#inTurn) this.requestTurn();
  }

  /** An attempt stopped running (its result is known). */
  released(run: AttemptRun): void {
    this.#wakeups.endDeadline(run);
    const instance = run.instance;
    if (instance.current === run) instance.current = undefined;
    this.#admission.attemptEnded(instance);
    this.#checkQuiet();
    this.#keepAliveSoon();
  }

  /** Decorator hooks started (+1) or finished (−1) settling an attempt or a finished instance. */
  settling(delta: 1 | -1): void {
    this.#settling += delta;
    this.#keepAlive();
    if (delta < 0) {
      this.#checkQuiet();
      this.requestTurn();
    }
  }

  /** Resolves when no attempt runs and no decorator hook settles one, or after `ms` on the run's clock. */
  quietOrAfter(ms: number): Promise<void> {
    if (this.#admission.inFlight + this.#settling === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cancel = this.#wakeups.after(ms, () => resolve());
      this.#quietWaiters.push(() => {
        cancel();
        resolve();
      });
    });
  }

  #checkQuiet(): void {
    if (this.#quietWaiters.length === 0 || this.#admission.inFlight + this.#settling > 0) return;
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
