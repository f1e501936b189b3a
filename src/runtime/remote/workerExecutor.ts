// The driver's side of attempts on workers. (Just over 400 lines: the launches in flight are one
// piece of state that starting, polling, settling and stopping all change; PollPlan, LaunchTable,
// RemoteCalls and UnclaimedNotice hold the parts that stand on their own.)
import { randomUUID } from 'node:crypto';
import { toError } from '../../errors.ts';
import type { TaskArgs } from '../../flow/types.ts';
import type { AttemptOutcome } from '../attempt/attemptOutcome.ts';
import { classifyAttempt } from '../attempt/attemptOutcome.ts';
import type { Executor } from '../attempt/attemptExecutor.ts';
import type { AttemptScopes } from '../attempt/attemptScopes.ts';
import { AttemptRun, type TaskInstance } from '../instances/taskInstance.ts';
import type { UpstreamRef } from '../scheduling/dependencyTracker.ts';
import type { CommitBatch } from '../../stores/index.ts';
import type { PostgresStore, SqlSession } from '../../stores/postgresStore.ts';
import { deserializeValue, serializeValue } from '../../stores/serialization.ts';
import { acquireBoss, ATTEMPT_PAYLOAD_FORMAT, ATTEMPT_QUEUE, attemptGroup, attemptPayload, bossDb, releaseBoss, type AttemptJobData } from './attemptQueue.ts';
import { LaunchTable, type LaunchState, type LaunchWrite } from './launchTable.ts';
import { OutageLog } from './outageLog.ts';
import { lostLaunchLines } from './lostLaunches.ts';
import { splitLogs, type OutcomeWithLogs } from './attemptLogs.ts';
import { WORKER_TIMING } from './timing.ts';
import { UnclaimedNotice } from './unclaimedNotice.ts';
import { channelOf, listen, notifyNow, type Subscription } from './notifications.ts';
import { PollPlan, readStored } from './pollPlan.ts';
import { RemoteCalls, type RemoteCallsHost } from './remoteCalls.ts';

/**
 * What the worker executor needs from the run that uses it (`FlowRun` provides it).
 *
 * @example
 * ```ts
 * const host: WorkerExecutorHost = { report, released, keepResult, interrupted, touch, requestTurn, log: console.log };
 * ```
 */
export interface WorkerExecutorHost extends RemoteCallsHost {
  /** How an attempt ended (on a worker, after its decorators had their say). */
  report(run: AttemptRun, outcome: AttemptOutcome): void;
  /** The attempt stopped running (frees its slot). */
  released(run: AttemptRun): void;
  /** The result as the run keeps it (see `KeptValues`). */
  keepResult(run: AttemptRun, value: unknown): { ok: true; value: unknown } | { ok: false; error: Error };
  /**
   * The worker running the attempt stopped heartbeating, or stopped and handed it back
   * (`graceful`): an interruption (applied by the run).
   */
  interrupted(run: AttemptRun, how: string, graceful: boolean): void;
  /** Where the stored values of the instance's upstream tasks are (`DependencyTracker.upstreamRefs`). */
  upstreamRefs(instance: TaskInstance): UpstreamRef[];
  /** The instance is written with the next batch (so the batch that carries its job is made). */
  touch(instance: TaskInstance): void;
  requestTurn(): void;
  log(line: string): void;
  /** A `ctx().log` line the attempt logged on its worker (stored, printed and given to listeners like a local one). */
  attemptLog(run: AttemptRun, line: string, at: number): void;
}

interface Launch {
  readonly id: string;
  readonly run: AttemptRun;
  /** When the driver handed it out (the run's clock). */
  readonly launchedAt: number;
  /** A refusal already logged (each one once). */
  refusal?: string;
}

/**
 * The driver's side of `executor: 'workers'`: instead of running an attempt here it writes an
 * attempt launch and a pg-boss job — both inside the transaction that stores the instance's
 * `START` (see `RunPersistence.within`) — and polls the launches in flight for the outcome a
 * worker stored, which it reports like a local attempt's. A launch whose worker stopped
 * heartbeating for {@link WORKER_TIMING.lostAfterMs} is marked lost (its worker can write nothing
 * from then on) and reported as an interruption: the run schedules the attempt again (no retry
 * used; `maxInterruptions` bounds it). Ending an attempt here (timeout, cancel, manual change)
 * marks its launch aborted: its worker aborts the attempt's signal at its next heartbeat.
 *
 * @example
 * ```ts
 * const executor = new WorkerExecutor(host, { store, runId, flowId: flow.id, flowHash: definitionHash(flow), now: Date.now });
 * persistence.within = (batch) => executor.within(batch);
 * ```
 */
export class WorkerExecutor implements Executor {
  readonly #host: WorkerExecutorHost;
  readonly #store: PostgresStore;
  readonly #table: LaunchTable;
  readonly #runId: string;
  readonly #flowId: string;
  readonly #flowHash: string;
  readonly #now: () => number;
  /** Launches written with the next batch: rows and jobs. */
  #pending: Array<{ launch: LaunchWrite; job: { id: string; data: AttemptJobData } }> = [];
  readonly #inFlight = new Map<string, Launch>();
  readonly #byRun = new Map<AttemptRun, string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #stopped = false;
  #boss: ReturnType<typeof acquireBoss> | undefined;
  #lostCheckedAt = 0;
  /** This opening of the run (see `AttemptPayload.session`). */
  #session: string = randomUUID();
  /** Whether the input tasks receive is the run record's (workers read it there). */
  #inputStored = false;
  /** When a poll last failed (PostgreSQL unreachable from here): workers get time to heartbeat again. */
  #pollFailedAt = Number.NEGATIVE_INFINITY;
  #pollOutage: OutageLog | undefined;
  /** "No worker takes the attempts" (one log line). */
  readonly #unclaimed: UnclaimedNotice;
  /** Workers' "outcomes stored" notifications (from {@link begin} to {@link stop}). */
  #outcomesStored: Subscription | undefined;
  /** The run listeners' scopes: their `attemptCarrier`s (e.g. a traceparent) go with each job. */
  #scopes: AttemptScopes | undefined;
  /** A notification came while a poll ran: poll again right after it. */
  #pollAgain = false;
  /** When the last poll started (`performance.now()`: polls are paced in real time). */
  #polledAt = Number.NEGATIVE_INFINITY;
  /** `ctx().call`s the attempts in flight make on their workers. */
  readonly #calls: RemoteCalls;
  /** Which launches each poll reads: the ones workers' notifications named, or all in flight. */
  readonly #pollPlan = new PollPlan(() => performance.now());

  constructor(
    host: WorkerExecutorHost,
    parts: { store: PostgresStore; runId: string; flowId: string; flowHash: string; now: () => number },
  ) {
    this.#host = host;
    this.#store = parts.store;
    this.#table = new LaunchTable(`"${parts.store.schema}"`);
    this.#runId = parts.runId;
    this.#flowId = parts.flowId;
    this.#flowHash = parts.flowHash;
    this.#now = parts.now;
    this.#calls = new RemoteCalls(host, { store: parts.store, flowId: parts.flowId });
    this.#unclaimed = new UnclaimedNotice({ table: this.#table, db: parts.store.pool, runId: parts.runId, flowId: parts.flowId, log: (line) => host.log(line) });
  }

  /**
   * The run was opened (or reopened): a new session, and whether its tasks' input is the stored
   * one (see `OpenedRun.inputStored`).
   */
  opened(inputStored: boolean): void {
    this.#session = randomUUID();
    this.#inputStored = inputStored;
    this.#unclaimed.reset();
    // (Launches may have finished while the run was closed: the first poll reads them all.)
    this.#pollPlan.readAllNext();
  }

  /**
   * The run begins (it will queue attempts): pg-boss starts now — loads, checks its schema — not
   * inside the first commit, which would wait for it before the first job is queued. A failure
   * shows in that commit (it awaits this promise), so it is not reported here. {@link stop}
   * lets go of it.
   */
  begin(): void {
    this.#boss ??= acquireBoss(this.#store);
    this.#boss.catch(() => {});
    // A worker that stores outcomes of this run says so: the driver polls at once instead of at
    // its next poll (which slows down meanwhile; see WORKER_TIMING.notifiedPollMs).
    this.#outcomesStored ??= listen(this.#store, channelOf(this.#store.schema, 'stored'), (payload) => {
      const { runId, launchIds } = readStored(payload);
      if (runId !== this.#runId) return;
      this.#pollPlan.notified(launchIds);
      this.#pollNow();
    });
  }

  useScopes(scopes: AttemptScopes | undefined): void {
    // Run listeners' `aroundAttempt` scopes wrap attempts where they run, which workers cannot
    // (the listener lives in the driver); their `attemptCarrier`s give what the job carries instead.
    this.#scopes = scopes;
  }

  start(run: AttemptRun, args: TaskArgs, customContext: Readonly<Record<string, string>>): void {
    // (A run reopened after its end starts attempts again: pg-boss and the notifications again too.)
    this.#stopped = false;
    if (this.#outcomesStored === undefined) this.begin();
    const instance = run.instance;
    const payload = attemptPayload(instance, args, {
      session: this.#session,
      inputStored: this.#inputStored,
      upstream: this.#host.upstreamRefs(instance),
      customContext,
      carried: this.#scopes?.carry(run),
    });
    let text: string;
    try {
      text = serializeValue(payload);
    } catch (error) {
      this.#settle(run, classifyAttempt(false, error));
      this.#host.requestTurn();
      return;
    }
    const id = randomUUID();
    const launch: LaunchWrite = { launchId: id, runId: this.#runId, key: instance.key, attempt: run.attempt, flowHash: this.#flowHash, createdAt: this.#now() };
    const data: AttemptJobData = { launchId: id, runId: this.#runId, flowId: this.#flowId, flowHash: this.#flowHash, key: instance.key, taskId: instance.task.id, attempt: run.attempt, payload: text, format: ATTEMPT_PAYLOAD_FORMAT };
    this.#pending.push({ launch, job: { id, data } });
    this.#track(id, run);
    this.#host.touch(instance);
  }

  /**
   * Takes over the launch an earlier driver made for an instance stored `running` (adoption):
   * `true` when its attempt is still queued, running or done on a worker (its outcome will be
   * reported), `false` when it was lost or aborted (the run treats it as interrupted).
   */
  reattach(instance: TaskInstance, latest: LaunchState | undefined): boolean {
    if (latest === undefined || latest.attempt !== instance.context.attempt) return false;
    if (latest.status !== 'queued' && latest.status !== 'running' && latest.status !== 'done') return false;
    const run = new AttemptRun(instance, latest.attempt);
    instance.current = run;
    this.#track(latest.launchId, run);
    return true;
  }

  /** The newest launch of each of these keys (for {@link reattach}). */
  latestLaunches(keys: readonly string[]): Promise<LaunchState[]> {
    return this.#table.latest(this.#store.pool, this.#runId, keys);
  }

  endNow(run: AttemptRun, error: Error): void {
    if (run.settled) return;
    run.abort(error);
    this.#settle(run, classifyAttempt(false, error));
  }

  discard(run: AttemptRun, reason: Error): void {
    run.abort(reason);
    run.discarded = true;
    this.#settle(run, undefined);
  }

  /** The run ended or let go: polling stops, attempts still in flight are forgotten here. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight.clear();
    this.#byRun.clear();
    this.#calls.clear();
    this.#outcomesStored?.unsubscribe();
    this.#outcomesStored = undefined;
    if (this.#boss !== undefined) {
      const acquired = this.#boss;
      this.#boss = undefined;
      void releaseBoss(this.#store, acquired);
    }
  }

  /**
   * The work for the batch being made: the launches and jobs of the attempts started since the
   * last batch, inserted in its transaction.
   */
  within(_batch: CommitBatch): ((db: SqlSession) => Promise<void>) | undefined {
    if (this.#pending.length === 0) return undefined;
    const pending = this.#pending;
    this.#pending = [];
    this.#boss ??= acquireBoss(this.#store);
    const boss = this.#boss;
    return async (db) => {
      const started = await boss;
      await this.#table.insert(db, pending.map((p) => p.launch));
      await started.insert(
        ATTEMPT_QUEUE,
        pending.map((p) => ({ id: p.job.id, data: p.job.data, group: { id: attemptGroup(p.job.data) } })),
        { db: bossDb(db) },
      );
    };
  }

  /** A batch with jobs committed: idle workers fetch now, not at their next poll. */
  committed(): void {
    void notifyNow(this.#store.pool, channelOf(this.#store.schema, 'queued'), ['']);
  }

  #track(id: string, run: AttemptRun): void {
    this.#inFlight.set(id, { id, run, launchedAt: this.#now() });
    this.#byRun.set(run, id);
    this.#schedulePoll(this.#pollEveryMs());
  }

  /** How long until the next poll: longer while workers' notifications reach this driver. */
  #pollEveryMs(): number {
    return this.#outcomesStored?.connected() === true ? WORKER_TIMING.notifiedPollMs : WORKER_TIMING.pollMs;
  }

  /** A worker stored outcomes of this run: poll now (or right after the poll under way). */
  #pollNow(): void {
    if (this.#stopped || this.#inFlight.size === 0) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // At most one woken poll per WORKER_TIMING.notifiedPollGapMs: outcomes that trickle in (each
    // worker slot ends at its own time) are read, applied and committed together — one commit
    // for several instead of one each, which on a busy database is what bounds the run.
    this.#schedulePoll(Math.max(0, this.#polledAt + WORKER_TIMING.notifiedPollGapMs - performance.now()));
  }

  /** Ends the attempt here: released, and reported unless discarded (`outcome` undefined). */
  #settle(run: AttemptRun, outcome: AttemptOutcome | undefined): void {
    if (run.settled) return;
    run.settled = true;
    const id = this.#byRun.get(run);
    if (id !== undefined) {
      this.#byRun.delete(run);
      const wasPending = this.#pending.findIndex((p) => p.launch.launchId === id);
      if (wasPending >= 0) this.#pending.splice(wasPending, 1);
      else if (this.#inFlight.has(id)) {
        this.#table.abort(this.#store.pool, [id], channelOf(this.#store.schema, 'aborted')).catch((error: unknown) => {
          this.#host.log(`taskmachine: could not tell the worker of attempt ${run.attempt} of '${run.instance.key}' to stop: ${toError(error).message}`);
        });
      }
      this.#inFlight.delete(id);
      this.#calls.forget(id);
    }
    this.#host.released(run);
    if (outcome !== undefined && !run.discarded) this.#host.report(run, outcome);
  }

  #schedulePoll(ms: number): void {
    if (this.#stopped || this.#timer !== undefined || this.#polling) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, ms);
    this.#timer.unref?.();
  }

  async #poll(): Promise<void> {
    if (this.#inFlight.size === 0 || this.#stopped) return;
    this.#polling = true;
    this.#polledAt = performance.now();
    try {
      // (Launches still waiting for their batch's commit are in flight too; the store knows none of them yet.)
      const { ids, full } = this.#pollPlan.next(this.#inFlight.keys(), (id) => this.#inFlight.has(id), this.#pollEveryMs());
      const states = await this.#table.poll(this.#store.pool, this.#runId, ids);
      // Lost workers are looked for once a heartbeat interval, not on every poll (a write query),
      // and only once PostgreSQL has been reachable from here for `lostAfterMs`: after an outage
      // (a PostgreSQL restart) the workers' heartbeats are as old as the outage, and the workers
      // that are alive get that long to heartbeat again before their attempts are given up.
      const now = this.#now();
      let lost: Array<{ launchId: string; worker: string; handedBack: boolean }> = [];
      if (now - this.#lostCheckedAt >= WORKER_TIMING.heartbeatMs && now - this.#pollFailedAt >= WORKER_TIMING.lostAfterMs) {
        this.#lostCheckedAt = now;
        lost = await this.#table.markLost(this.#store.pool, this.#runId, [...this.#inFlight.keys()], now - WORKER_TIMING.lostAfterMs);
      }
      this.#pollOutage?.ok();
      if (this.#stopped) return;
      let changed = false;
      for (const state of states) changed = this.#apply(state) || changed;
      // (After the outcomes: a launch that just ended makes no more calls.)
      await this.#calls.poll(states, (id) => this.#inFlight.get(id)?.run);
      // (Only a full poll shows every launch a worker claimed.)
      if (full) await this.#unclaimed.check(states, this.#inFlight.values(), () => this.#pending.map((pending) => pending.launch.launchId), now);
      else this.#unclaimed.sawTaken(states);
      for (const line of lostLaunchLines(lost, this.#runId)) this.#host.log(line);
      for (const { launchId: id, handedBack } of lost) {
        const launch = this.#inFlight.get(id);
        if (launch === undefined) continue;
        this.#inFlight.delete(id);
        this.#calls.forget(id);
        this.#byRun.delete(launch.run);
        launch.run.settled = true;
        launch.run.abort(new Error('the worker running the attempt stopped heartbeating'));
        this.#host.released(launch.run);
        this.#host.interrupted(
          launch.run,
          handedBack ? 'the worker running it stopped and handed it back after its grace period' : `the worker running it stopped heartbeating for ${WORKER_TIMING.lostAfterMs} ms`,
          // (A worker that stopped and handed it back is a deploy, not a crash: not counted.)
          handedBack,
        );
        changed = true;
      }
      if (changed) this.#host.requestTurn();
    } catch (error) {
      this.#pollPlan.readAllNext();
      this.#pollFailedAt = this.#now();
      this.#pollOutage ??= new OutageLog((line) => this.#host.log(line), `taskmachine: reading the outcomes of attempts of run '${this.#runId}' on workers`);
      this.#pollOutage.failed(error);
    } finally {
      this.#polling = false;
      const again = this.#pollAgain;
      this.#pollAgain = false;
      // (A poll that read only what notifications named does not put off the next full one.)
      if (this.#inFlight.size > 0) {
        this.#schedulePoll(again ? Math.max(0, this.#polledAt + WORKER_TIMING.notifiedPollGapMs - performance.now()) : this.#pollPlan.msUntilFull(this.#pollEveryMs()));
      }
    }
  }

  /** One polled launch: an outcome to report, or a refusal to log. */
  #apply(state: LaunchState): boolean {
    const launch = this.#inFlight.get(state.launchId);
    if (launch === undefined) return false;
    const { run } = launch;
    if (state.status === 'queued') {
      if (state.refusal !== null && state.refusal !== launch.refusal) {
        launch.refusal = state.refusal;
        this.#host.log(`taskmachine: attempt ${run.attempt} of '${run.instance.key}' waits for a worker: ${state.refusal}`);
      }
      return false;
    }
    if (state.status !== 'done' || state.outcome === null) return false;
    let outcome: AttemptOutcome;
    try {
      const stored = splitLogs(deserializeValue<OutcomeWithLogs>(state.outcome));
      for (const { at, line } of stored.logs) this.#host.attemptLog(run, line, at);
      outcome = stored.outcome;
      if (outcome.kind === 'completed') {
        const kept = this.#host.keepResult(run, outcome.value);
        outcome = kept.ok ? { kind: 'completed', value: kept.value } : classifyAttempt(false, kept.error);
      }
    } catch (error) {
      outcome = { kind: 'failed', error: toError(error), failureKind: 'infrastructure', failFast: true };
    }
    this.#inFlight.delete(state.launchId);
    this.#settle(run, outcome);
    return true;
  }
}
