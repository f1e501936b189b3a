// One worker: claim attempts, run them, store their outcomes, heartbeat them, stop (over ~400
// lines on purpose: these parts share the sets of launches being set up, running, storing and
// given back, and splitting them would pass that state around; adoption, slots, refusals, outcome
// commits and stored values are files of their own).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job } from 'pg-boss';
import { toError } from '../errors.ts';
import { StoreConnectionError } from '../stores/errors.ts';
import type { Flow } from '../flow/types.ts';
import type { Gate } from '../gates/defineGate.ts';
import type { Listener } from '../listeners/types.ts';
import type { AttemptRun } from '../runtime/instances/taskInstance.ts';
import type { PostgresStore, SqlSession } from '../stores/postgresStore.ts';
import { deserializeValue, serializeValue } from '../stores/serialization.ts';
import { storeEndedAttemptLogs, withLogs } from '../runtime/remote/attemptLogs.ts';
import { acquireBoss, ATTEMPT_QUEUE, bossDb, releaseBoss, type AttemptJobData, type AttemptPayload } from '../runtime/remote/attemptQueue.ts';
import { definitionHash } from '../flow/flowShape.ts';
import { Adoption } from './adoptionLoop.ts';
import { LaunchTable } from '../runtime/remote/launchTable.ts';
import { WORKER_TIMING } from '../runtime/remote/timing.ts';
import { WorkerAttempts, type WorkerAttempt } from './workerAttempt.ts';
import type { AttemptOutcome } from '../runtime/attempt/attemptOutcome.ts';
import { StoredValues } from './storedValues.ts';
import { OutcomeCommits } from './outcomeCommits.ts';
import { OutageLog } from '../runtime/remote/outageLog.ts';
import { channelOf, listen, notifyNow } from '../runtime/remote/notifications.ts';
import { storedPayloads } from '../runtime/remote/pollPlan.ts';
import { WorkerCalls } from './workerCalls.ts';
import { Slots, type Slot } from './slots.ts';
import { RefusedGroups, refusalOf } from './refusals.ts';

/**
 * Options of {@link startWorker}.
 *
 * @example
 * ```ts
 * const options: WorkerOptions = { store, flows: [etl, reports], concurrency: 8 };
 * ```
 */
export interface WorkerOptions {
  /** The PostgreSQL store the drivers use. */
  readonly store: PostgresStore;
  /** The flows this worker runs attempts of (and adopts runs of). */
  readonly flows: readonly Flow[];
  /**
   * Attempts this worker runs at once.
   * @default 16
   */
  readonly concurrency?: number;
  /**
   * Whether this worker adopts (becomes the driver of) runs of its flows started with
   * `executor: 'workers'` whose driver's lease expired or was released (`run --detach`).
   * @default true
   */
  readonly adopt?: boolean;
  /**
   * Readiness gates and listeners of the runs this worker adopts, by flow id: what the flow file
   * exports next to the flow (`gates`, `listeners`), so an adopted run is driven as its first
   * driver drove it. Attempts themselves need neither (gates run on the driver).
   * @default {} (adopted runs have no gates and no listeners)
   * @example { etl: { gates: [warehouseOpen], listeners: [alerts] } }
   */
  readonly drivingWith?: Readonly<Record<string, { readonly gates?: readonly Gate[]; readonly listeners?: readonly Listener[] }>>;
  /**
   * Where the worker's log lines go.
   * @default console.log
   */
  readonly log?: (line: string) => void;
}

/**
 * A running worker.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ store, flows: [etl] });
 * console.log(worker.id, worker.running(), worker.driving());
 * await worker.stop({ graceMs: 5_000 });
 * ```
 */
export interface WorkerHandle {
  /** `host:pid:random`, what launches and log lines name. */
  readonly id: string;
  /** Attempts running here now. */
  running(): number;
  /** Runs this worker drives (adopted). */
  driving(): readonly string[];
  /**
   * Stops taking attempts and aborts the running ones with reason `'preempt'` (as a run's graceful
   * shutdown does), giving them up to `graceMs` to end: a result or a `TaskCheckpointed` is stored
   * as usual; a failure, or an attempt still running then, is handed back to its driver (it runs
   * again elsewhere as an interruption that uses no retry and is not counted). Then lets go of the
   * runs it adopted. A second call while it stops cuts the grace period short to its own `graceMs`
   * (a second Ctrl-C: `stop({ graceMs: 0 })` hands back at once) and resolves with the first.
   */
  stop(options?: {
    /**
     * How long running attempts get to end, in ms.
     * @default 10000
     */
    readonly graceMs?: number;
  }): Promise<void>;
}

/**
 * Starts a worker in this process: it takes attempt jobs of the given flows from pg-boss (at most
 * `concurrency` at a time), runs each through the attempt executor and stores its outcome and the
 * job's completion in one transaction, fenced by the launch (a worker that lost its claim writes
 * nothing); it heartbeats the launches it runs every second; it refuses attempts of a run whose
 * flow definition differs from its own (one log line per run; the attempt waits for another
 * worker); and it adopts runs whose driver is gone. `taskmachine worker` is this function.
 *
 * @example
 * ```ts
 * import { postgresStore } from 'taskmachine/stores';
 * import { startWorker } from 'taskmachine/workers';
 * const store = await postgresStore({ connectionString: process.env.DATABASE_URL });
 * const worker = await startWorker({ store, flows: [etl], concurrency: 8 });
 * process.on('SIGTERM', () => void worker.stop().then(() => store.close()));
 * ```
 */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const { store, flows } = options;
  const concurrency = options.concurrency ?? 16;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new TypeError(`startWorker: concurrency must be a whole number ≥ 1, got ${String(options.concurrency)}`);
  }
  if (flows.length === 0) throw new TypeError('startWorker: give at least one flow (the flows whose attempts this worker runs)');
  const log = options.log ?? ((line: string) => console.log(line));
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const byId = new Map<string, { flow: Flow; hash: string; attempts: WorkerAttempts }>();
  // Stored values the attempts refer to (inputs, upstream results): one bounded cache per worker.
  const stored = new StoredValues(store);
  const calls = new WorkerCalls(store, id);
  for (const flow of flows) {
    if (byId.has(flow.id)) throw new TypeError(`startWorker: two flows have the id '${flow.id}'; a worker runs one definition per flow id`);
    byId.set(flow.id, { flow, hash: definitionHash(flow), attempts: new WorkerAttempts(flow, store, log, stored, calls) });
  }
  const launches = new LaunchTable(`"${store.schema}"`);
  const running = new Map<string, AttemptRun>();
  const refusedRuns = new Set<string>();
  const refusedGroups = new RefusedGroups();
  const loadedHashes = new Map([...byId].map(([flowId, { hash }]) => [flowId, hash]));
  let stopping = false;

  const acquired = acquireBoss(store, { supervise: true });
  const boss = await acquired;

  /**
   * `work` in a transaction of its own, tried again on a fresh connection when the connection breaks
   * (a PostgreSQL restart): see `PostgresStore.transaction`. Every use below is safe to repeat.
   */
  const transaction = <T>(doing: string, work: (db: SqlSession) => Promise<T>): Promise<T> => store.transaction(doing, work);

  /** An attempt of a run whose definition differs (or whose flow is not loaded): back in the queue. */
  async function refuse(job: Job<AttemptJobData>, refusal: string): Promise<void> {
    const data = job.data;
    if (!refusedRuns.has(data.runId)) {
      refusedRuns.add(data.runId);
      log(`taskmachine worker ${id}: refusing the attempts of run '${data.runId}': ${refusal}`);
    }
    // Back in the queue at once, in its run's group, which this worker's fetches skip from now on.
    // (Repeated after a lost reply, it queues one more job for the launch: the launch decides.)
    const { group, full } = refusedGroups.add(data);
    await transaction(`hand back an attempt of run '${data.runId}'`, async (db) => {
      await launches.refuse(db, data.launchId, `worker ${id} refused it: ${refusal}`);
      // (With the skip list full, runs it forgot come back to it: then a little later, as a brake.)
      await boss.insert(ATTEMPT_QUEUE, [{ data, group: { id: group }, ...(full ? { startAfter: 2 } : {}) }], { db: bossDb(db) });
      await boss.complete(ATTEMPT_QUEUE, job, null, { db: bossDb(db) });
    });
    // Idle workers that can run it fetch now, not at their next poll (as after a driver's commit).
    void notifyNow(store.pool, channelOf(store.schema, 'queued'), ['']);
  }

  const outcomesStored = channelOf(store.schema, 'stored');
  // Outcomes and job completions, group-committed (see OutcomeCommits).
  // (Repeated after a lost reply, `finishMany` reports the outcomes it had stored as stored.)
  const outcomes = new OutcomeCommits<Job<AttemptJobData>>(async (writes) => {
    const stored = await transaction('store attempt outcomes', async (db) => {
      const finished = await launches.finishMany(db, id, writes.map((w) => w.launchId), writes.map((w) => w.outcome));
      await boss.complete(ATTEMPT_QUEUE, writes.map((w) => w.job), null, { db: bossDb(db) });
      return finished;
    });
    // Their drivers poll now, reading just these launches (each driver listens for its run id).
    void notifyNow(store.pool, outcomesStored, storedPayloads(writes.filter((w) => stored.has(w.launchId)).map((w) => ({ runId: w.job.data.runId, launchId: w.launchId }))));
    return stored;
  });
  const outcomeStores = new OutageLog(log, `taskmachine worker ${id}: storing attempt outcomes`);
  /** Launches whose attempt ended here and whose outcome is being stored: still heartbeated. */
  const storing = new Set<string>();
  /** Attempts that failed after the stop's `preempt` and were handed back (see `run`). */
  let preemptedBack = 0;
  /** Launches claimed here whose attempt is still being set up (its stored values read). */
  const starting = new Set<string>();
  /** Launches handed back at the end of a stop: whatever their attempts do later is not stored. */
  const givenBack = new Set<string>();

  /** An outcome with its log lines as stored; one that cannot be serialized is an infrastructure failure. */
  function outcomeText(outcome: AttemptOutcome, lines: ReturnType<WorkerAttempt['logs']>): string {
    try {
      return serializeValue(withLogs(outcome, lines));
    } catch (error) {
      return serializeValue(withLogs({ kind: 'failed', error: toError(error), failureKind: 'infrastructure', failFast: true }, lines));
    }
  }

  /**
   * Runs a claimed attempt and stores its outcome. Its slot frees as soon as the attempt stops
   * running: the next attempt starts while this outcome is being stored (group-committed with
   * others), instead of a slot idling through a commit per attempt.
   */
  async function run(job: Job<AttemptJobData>, slot: Slot): Promise<void> {
    const data = job.data;
    const { attempts } = byId.get(data.flowId)!;
    adoption?.ran(data.runId, data.key, data.attempt);
    // (Claimed, so heartbeated, waited for and handed back by a stop like a running attempt.)
    starting.add(data.launchId);
    let started: Awaited<ReturnType<typeof attempts.start>>;
    try {
      started = await attempts.start(data, deserializeValue<AttemptPayload>(data.payload), slot);
      running.set(data.launchId, started.run);
    } finally {
      starting.delete(data.launchId);
    }
    // (Started while the worker stops: it hears 'preempt' at once, as those running then did.)
    if (stopping) started.run.abort('preempt');
    const outcome = await started.outcome;
    running.delete(data.launchId);
    if (givenBack.has(data.launchId)) return;
    // Heartbeated until the outcome is stored (which may wait out a PostgreSQL restart): a launch
    // whose attempt finished is not given up as lost meanwhile.
    storing.add(data.launchId);
    slot.end();
    const lines = started.logs();
    if (stopping && outcome.kind === 'failed') {
      // As in a run's graceful shutdown, an attempt that fails once told to stop is a graceful
      // interruption, not a failure: handed back, it runs again elsewhere as the same attempt.
      // (Its ctx().log lines are kept with the launch, as those of an attempt its driver ended.)
      try {
        const handed = await transaction('hand back an attempt that ended on preempt', (db) => launches.handBack(db, id, [data.launchId]));
        preemptedBack += handed;
        if (handed > 0 && lines.length > 0) await storeEndedAttemptLogs(store, id, data, outcomeText(outcome, lines), lines);
      } finally {
        storing.delete(data.launchId);
      }
      return;
    }
    let text = '';
    let stored: boolean;
    try {
      text = outcomeText(outcome, lines);
      // Tried until stored, while the worker runs: PostgreSQL away longer than the store's own
      // retries (`reconnectForMs`) must not make a finished attempt run again. (Its launch is
      // heartbeated meanwhile, so once the server is back the run's driver, or the worker that
      // adopts the run, waits for this outcome.)
      for (;;) {
        try {
          stored = await outcomes.add({ launchId: data.launchId, job, outcome: text });
          outcomeStores.ok();
          break;
        } catch (error) {
          if (stopping || !(error instanceof StoreConnectionError)) throw error;
          outcomeStores.failed(error);
          await new Promise((resolve) => setTimeout(resolve, WORKER_TIMING.heartbeatMs));
        }
      }
    } finally {
      storing.delete(data.launchId);
    }
    if (!stored) log(`taskmachine worker ${id}: ${await storeEndedAttemptLogs(store, id, data, text, lines)}`);
  }

  /**
   * Fetches up to `free` jobs and claims their launches **in one transaction**: a worker that dies
   * before it commits leaves the jobs to the others at once (nothing committed), one that dies after
   * holds running launches that stop heartbeating (lost after `lostAfterMs`: interruptions). Jobs of
   * launches that cannot be claimed (ended by their driver, run elsewhere) are completed in the same
   * transaction; jobs this worker refuses are handed back after it (`refuse`).
   */
  async function fetchAndClaim(free: number): Promise<{ fetched: number; taken: Array<{ job: Job<AttemptJobData>; work: (slot: Slot) => Promise<void> }> }> {
    // (Repeated after a lost reply, the first try's jobs stay active and its launches claimed by
    // this worker, which never runs them: they are lost after `lostAfterMs` and run again — no
    // retry used. Not written twice.)
    return transaction('fetch and claim attempts', async (db) => {
      const jobs = await boss.fetch<AttemptJobData>(ATTEMPT_QUEUE, { batchSize: free, db: bossDb(db), ...refusedGroups.fetchOptions() });
      const taken: Array<{ job: Job<AttemptJobData>; work: (slot: Slot) => Promise<void> }> = [];
      const claimable: Job<AttemptJobData>[] = [];
      for (const job of jobs) {
        const refusal = refusalOf(job.data, loadedHashes);
        if (refusal === undefined) claimable.push(job);
        else taken.push({ job, work: () => refuse(job, refusal) });
      }
      const ids = claimable.map((job) => job.data.launchId).filter((launchId) => !running.has(launchId) && !storing.has(launchId));
      const claimed = await launches.claimMany(db, ids, id, Date.now());
      const gone = claimable.filter((job) => !claimed.has(job.data.launchId));
      if (gone.length > 0) await boss.complete(ATTEMPT_QUEUE, gone.map((job) => job.id), null, { db: bossDb(db) });
      for (const job of claimable) if (claimed.has(job.data.launchId)) taken.push({ job, work: (slot) => run(job, slot) });
      return { fetched: jobs.length, taken };
    });
  }

  // The fetch loop: up to `concurrency` attempts at once; it fetches again as soon as one ends or
  // a fetch came back full, and otherwise polls every `WORKER_TIMING.idlePollMs`. (pg-boss's own
  // `work()` waits out its polling interval after every fetch, which caps a poller at two jobs a
  // second without NOTIFY; this loop keeps every slot busy while jobs are queued.) Outcomes still
  // being stored hold no slot, but when `concurrency` of them wait (the store is slow or away) the
  // loop takes nothing more until they are stored. An attempt waiting for a ctx().call holds no
  // slot meanwhile (see Slots): the child may need it.
  const fetches = new OutageLog(log, `taskmachine worker ${id}: fetching attempt jobs`);
  const heartbeats = new OutageLog(log, `taskmachine worker ${id}: heartbeating its attempts`);
  let wake: (() => void) | undefined;
  const slots = new Slots(concurrency, () => wake?.());
  // A driver committed jobs: fetch now, not at the next idle poll. One that comes while a fetch is
  // under way (which may have missed those jobs) makes the loop fetch again at once.
  let jobsQueued = false;
  const queued = listen(store, channelOf(store.schema, 'queued'), () => {
    jobsQueued = true;
    wake?.();
  });
  const fetching = (async () => {
    while (!stopping) {
      const free = storing.size >= concurrency ? 0 : slots.free();
      let fetched = 0;
      if (free > 0) {
        slots.reserve(free);
        try {
          const { fetched: count, taken } = await fetchAndClaim(free);
          fetches.ok();
          fetched = count;
          for (const { job, work } of taken) {
            const slot = slots.take();
            work(slot)
              .catch((error: unknown) => {
                log(`taskmachine worker ${id}: attempt job ${job.id} failed: ${toError(error).message}`);
                return boss.fail(ATTEMPT_QUEUE, job, { message: toError(error).message }).catch(() => {});
              })
              .finally(() => {
                running.delete(job.data.launchId);
                slot.end();
                // (A slot the outcome's storing kept the loop from using is free again.)
                wake?.();
              });
          }
        } catch (error) {
          fetches.failed(error);
        } finally {
          slots.unreserve();
        }
      }
      if (stopping) break;
      if (fetched > 0 && fetched === free) continue;
      if (jobsQueued && slots.free() > 0) {
        jobsQueued = false;
        continue;
      }
      jobsQueued = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, queued.connected() ? WORKER_TIMING.notifiedIdlePollMs : WORKER_TIMING.idlePollMs);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  })();

  const beat = (): void => {
    const ids = [...running.keys(), ...starting, ...storing];
    if (ids.length === 0) return;
    launches.heartbeat(store.pool, id, ids, Date.now()).then(
      (gone) => {
        heartbeats.ok();
        for (const launchId of gone) running.get(launchId)?.abort(new Error('the driver ended this attempt (timeout, cancel or a manual change), or gave it up as lost'));
      },
      (error: unknown) => heartbeats.failed(error),
    );
  };
  const heartbeat = setInterval(beat, WORKER_TIMING.heartbeatMs);
  // A driver that ends an attempt running here says so (with this worker's id): the heartbeat that
  // finds out which, and aborts its signal, runs now instead of up to a second later.
  const aborted = listen(store, channelOf(store.schema, 'aborted'), (worker) => {
    if (worker === id) beat();
  });

  const adoption = options.adopt === false ? undefined : new Adoption({ store, workerId: id, flows: byId, drivingWith: options.drivingWith, log });

  let stopped: Promise<void> | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  let shortened = false;
  return {
    id,
    running: () => running.size,
    driving: () => adoption?.driving() ?? [],
    stop(stopOptions = {}) {
      const graceMs = stopOptions.graceMs ?? 10_000;
      // A second stop (a second Ctrl-C) cuts the grace period short and ends with the first.
      const until = Date.now() + graceMs;
      if (stopped !== undefined) shortened ||= until < deadline;
      deadline = Math.min(deadline, until);
      stopped ??= stopNow(graceMs);
      return stopped;
    },
  };

  async function stopNow(graceMs: number): Promise<void> {
    stopping = true;
    adoption?.stopLooking();
    queued.unsubscribe();
    aborted.unsubscribe();
    wake?.();
    // Running attempts are aborted with reason 'preempt', as a run's graceful shutdown does: a
    // task may answer with TaskCheckpointed, whose data its next attempt (on another worker) gets.
    // (At once, not after the fetch under way, which may wait out a PostgreSQL outage; attempts
    // that fetch claims hear it as they start, see `run`.)
    for (const attempt of running.values()) attempt.abort('preempt');
    await fetching;
    // Attempts still running (or being set up) get the grace period, and so do outcomes still being stored.
    while ((running.size > 0 || starting.size > 0 || storing.size > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterval(heartbeat);
    if (preemptedBack > 0) {
      log(`taskmachine worker ${id}: ${preemptedBack} attempt${preemptedBack === 1 ? '' : 's'} ended on 'preempt' without a result; handed back to their drivers (they run again as interruptions, using no retry and not counted)`);
    }
    // Attempts that did not end in time are handed back: their drivers run them again (an
    // interruption, no retry used) within about a second, not once lostAfterMs without a heartbeat.
    const left = [...running.keys(), ...starting];
    if (left.length > 0) {
      // Whatever they do from now on is not stored (they heard 'preempt'; the rerun elsewhere counts).
      for (const launchId of left) givenBack.add(launchId);
      const handed = await transaction('hand back the attempts still running', (db) => launches.handBack(db, id, left)).catch(() => 0);
      const when = shortened ? 'before the second stop' : `within the grace period (${graceMs} ms)`;
      log(`taskmachine worker ${id}: ${left.length} attempt${left.length === 1 ? '' : 's'} did not end ${when}; ${handed} handed back to their drivers (they run again as interruptions, using no retry and not counted)`);
    }
    // (After the grace period: attempts waiting for ctx().call answers get them meanwhile.)
    calls.stop();
    await adoption?.letGo();
    await releaseBoss(store, acquired);
  }
}
