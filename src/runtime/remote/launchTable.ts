import type { SqlSession } from '../../stores/postgresStore.ts';

/**
 * A stored attempt launch's status (see migration 5 of the PostgreSQL store).
 *
 * @example
 * ```ts
 * const finished: LaunchStatus[] = ['done', 'lost', 'aborted'];
 * ```
 */
export type LaunchStatus = 'queued' | 'running' | 'done' | 'lost' | 'aborted';

/** The heartbeat of a launch its stopping worker handed back (see {@link LaunchTable.handBack}). */
const HANDED_BACK = -1;

/**
 * One attempt handed to workers, as the driver writes it.
 *
 * @example
 * ```ts
 * const launch: LaunchWrite = { launchId: randomUUID(), runId: 'nightly', key: 'extract', attempt: 1, flowHash, createdAt: Date.now() };
 * ```
 */
export interface LaunchWrite {
  readonly launchId: string;
  readonly runId: string;
  readonly key: string;
  readonly attempt: number;
  readonly flowHash: string;
  readonly createdAt: number;
}

/**
 * A launch as the driver polls it.
 *
 * @example
 * ```ts
 * const [state] = await launches.poll(store.pool, 'nightly', [launchId]);
 * if (state?.status === 'done') console.log(deserializeValue(state.outcome!));
 * ```
 */
export interface LaunchState {
  readonly launchId: string;
  readonly key: string;
  readonly attempt: number;
  readonly status: LaunchStatus;
  /** superjson text of the attempt's outcome (status `done`). */
  readonly outcome: string | null;
  readonly worker: string | null;
  readonly refusal: string | null;
  /** How many `ctx().call` requests its attempt made (see `CallTable`). */
  readonly calls: number;
}

function rowToState(row: Record<string, unknown>): LaunchState {
  return {
    launchId: String(row['launch_id']),
    key: String(row['key']),
    attempt: Number(row['attempt']),
    status: row['status'] as LaunchStatus,
    outcome: (row['outcome'] as string | null) ?? null,
    worker: (row['worker'] as string | null) ?? null,
    refusal: (row['refusal'] as string | null) ?? null,
    calls: Number(row['calls'] ?? 0),
  };
}

/**
 * The statements on the `attempt_launches` table of one store schema: the only code that reads or
 * writes it. Every write a worker makes is fenced on the row's status (and its own worker id), so
 * a worker that lost its claim (declared lost, or the attempt was ended by the driver) writes
 * nothing.
 *
 * @example
 * ```ts
 * const launches = new LaunchTable('"taskmachine"');
 * const claimed = await launches.claimMany(store.pool, [launchId], "host:123:abcd", Date.now());
 * ```
 */
export class LaunchTable {
  readonly #t: string;

  /** @param schema the store's schema as a quoted identifier (`"taskmachine"`). */
  constructor(schema: string) {
    this.#t = `${schema}.attempt_launches`;
  }

  /** Inserts the launches (inside the driver's commit transaction). */
  async insert(db: SqlSession, launches: readonly LaunchWrite[]): Promise<void> {
    if (launches.length === 0) return;
    await db.query(
      `INSERT INTO ${this.#t} (launch_id, run_id, key, attempt, flow_hash, created_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[])`,
      [
        launches.map((l) => l.launchId),
        launches.map((l) => l.runId),
        launches.map((l) => l.key),
        launches.map((l) => l.attempt),
        launches.map((l) => l.flowHash),
        launches.map((l) => l.createdAt),
      ],
    );
  }

  /** The launches (of one run) among `ids` that a worker finished, lost or refused. */
  async poll(db: SqlSession, runId: string, ids: readonly string[]): Promise<LaunchState[]> {
    if (ids.length === 0) return [];
    const res = await db.query(
      `SELECT launch_id, key, attempt, status, outcome, worker, refusal, calls FROM ${this.#t}
       WHERE run_id = $1 AND launch_id = ANY($2::uuid[]) AND (status <> 'queued' OR refusal IS NOT NULL)`,
      [runId, ids],
    );
    return res.rows.map(rowToState);
  }

  /**
   * Marks running launches whose worker last heartbeat before `staleBefore` as lost, and returns
   * their ids: from then on their worker can write nothing (its outcome would need `running`).
   */
  async markLost(db: SqlSession, runId: string, ids: readonly string[], staleBefore: number): Promise<Array<{ launchId: string; worker: string; handedBack: boolean }>> {
    if (ids.length === 0) return [];
    const res = await db.query(
      `UPDATE ${this.#t} SET status = 'lost'
       WHERE run_id = $1 AND launch_id = ANY($2::uuid[]) AND status = 'running' AND heartbeat_at < $3
       RETURNING launch_id, worker, heartbeat_at`,
      [runId, ids, staleBefore],
    );
    return res.rows.map((row: Record<string, unknown>) => ({
      launchId: String(row['launch_id']),
      worker: String(row['worker']),
      handedBack: Number(row['heartbeat_at']) === HANDED_BACK,
    }));
  }

  /**
   * A stopping worker gives up the attempts it still runs after its grace period: their heartbeat
   * becomes {@link HANDED_BACK}, long past, so their drivers' next look for lost launches (once a
   * heartbeat interval) finds them at once instead of `lostAfterMs` later. From then on neither a
   * heartbeat (one already on its way included) nor an outcome of that worker is taken for them.
   * Returns how many.
   */
  async handBack(db: SqlSession, worker: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await db.query(`UPDATE ${this.#t} SET heartbeat_at = $3 WHERE launch_id = ANY($2::uuid[]) AND worker = $1 AND status = 'running'`, [
      worker,
      ids,
      HANDED_BACK,
    ]);
    return res.rowCount ?? 0;
  }

  /**
   * The driver ended these attempts (timeout, cancel, manual change): their workers abort them —
   * at once when `channel` is given (each worker running one is notified with its id), else at
   * their next heartbeat.
   */
  async abort(db: SqlSession, ids: readonly string[], channel?: string): Promise<void> {
    if (ids.length === 0) return;
    await db.query(
      `WITH aborted AS (
         UPDATE ${this.#t} SET status = 'aborted' WHERE launch_id = ANY($1::uuid[]) AND status IN ('queued', 'running') RETURNING worker
       )
       SELECT pg_notify($2, worker) FROM (SELECT DISTINCT worker FROM aborted WHERE worker IS NOT NULL AND $2::text IS NOT NULL) AS running_on`,
      [ids, channel ?? null],
    );
  }

  /** The newest launch of each of the run's `keys` (an adopting driver takes them over). */
  async latest(db: SqlSession, runId: string, keys: readonly string[]): Promise<LaunchState[]> {
    if (keys.length === 0) return [];
    const res = await db.query(
      `SELECT DISTINCT ON (key) launch_id, key, attempt, status, outcome, worker, refusal, calls FROM ${this.#t}
       WHERE run_id = $1 AND key = ANY($2::text[]) ORDER BY key, seq DESC`,
      [runId, keys],
    );
    return res.rows.map(rowToState);
  }

  /** Refusals of a run's launches still waiting for a worker (for `status`). */
  async refusals(db: SqlSession, runId: string): Promise<Array<{ key: string; attempt: number; refusal: string }>> {
    const res = await db.query(
      `SELECT key, attempt, refusal FROM ${this.#t} WHERE run_id = $1 AND status = 'queued' AND refusal IS NOT NULL ORDER BY seq`,
      [runId],
    );
    return res.rows.map((row: Record<string, unknown>) => ({ key: String(row['key']), attempt: Number(row['attempt']), refusal: String(row['refusal']) }));
  }

  /**
   * The run's launches no worker took since `before` (epoch ms) and none refused, while no worker
   * runs anything (no launch of any run in this schema heartbeat since `aliveSince`): no worker
   * runs, or none loaded this flow (`status` says so). Workers busy with other runs' attempts are
   * not "no worker".
   */
  async unclaimed(db: SqlSession, runId: string, before: number, aliveSince: number): Promise<Array<{ key: string; attempt: number; since: number }>> {
    const res = await db.query(
      `SELECT key, attempt, created_at FROM ${this.#t} WHERE run_id = $1 AND status = 'queued' AND refusal IS NULL AND created_at <= $2
         AND NOT EXISTS (SELECT 1 FROM ${this.#t} WHERE status = 'running' AND heartbeat_at >= $3) ORDER BY seq`,
      [runId, before, aliveSince],
    );
    return res.rows.map((row: Record<string, unknown>) => ({ key: String(row['key']), attempt: Number(row['attempt']), since: Number(row['created_at']) }));
  }

  /** Whether some worker runs an attempt of any run in this schema (a heartbeat since `aliveSince`). */
  async workersBusy(db: SqlSession, aliveSince: number): Promise<boolean> {
    const res = await db.query(`SELECT EXISTS (SELECT 1 FROM ${this.#t} WHERE status = 'running' AND heartbeat_at >= $1) AS busy`, [aliveSince]);
    return res.rows[0]?.['busy'] === true;
  }

  /**
   * A worker claims the queued launches among `ids`; resolves to the ids it claimed. Launches among
   * them that this worker already claimed count as claimed too (a job pg-boss handed out again to
   * the worker that had claimed it but never ran it): give only `ids` the worker is not running.
   */
  async claimMany(db: SqlSession, ids: readonly string[], worker: string, now: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const res = await db.query(
      `UPDATE ${this.#t} SET status = 'running', worker = $2, heartbeat_at = $3, refusal = NULL
       WHERE launch_id = ANY($1::uuid[]) AND (status = 'queued' OR (status = 'running' AND worker = $2)) RETURNING launch_id`,
      [ids, worker, now],
    );
    return new Set(res.rows.map((row: Record<string, unknown>) => String(row['launch_id'])));
  }

  /**
   * A worker stores its attempts' outcomes (in the transaction that completes their jobs); resolves
   * to the launch ids it still held — the others' outcomes are discarded. A launch it already
   * stored this very outcome for counts as stored (a commit repeated after its reply was lost).
   * (`launch_id = ANY(…)` besides the join: with the statistics autovacuum leaves — launches
   * analyzed while queued, so `worker = $1` looks like one row — the planner otherwise loops over
   * every stored launch and runs the unnest for each: 13–24 ms for 40 of 2,000, growing with the
   * table. test/stores/postgresPlans.test.ts builds that state.)
   */
  async finishMany(db: SqlSession, worker: string, ids: readonly string[], outcomes: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const res = await db.query(
      `UPDATE ${this.#t} AS l SET status = 'done', outcome = o.outcome
       FROM unnest($2::uuid[], $3::text[]) AS o(launch_id, outcome)
       WHERE l.launch_id = ANY($2::uuid[]) AND l.launch_id = o.launch_id AND l.worker = $1
         AND ((l.status = 'running' AND l.heartbeat_at IS DISTINCT FROM ${HANDED_BACK}) OR (l.status = 'done' AND l.outcome = o.outcome))
       RETURNING l.launch_id`,
      [worker, ids, outcomes],
    );
    return new Set(res.rows.map((row: Record<string, unknown>) => String(row['launch_id'])));
  }

  /** A worker that will not run a launch says why (it stays queued for another worker). */
  async refuse(db: SqlSession, launchId: string, refusal: string): Promise<void> {
    await db.query(`UPDATE ${this.#t} SET refusal = $2 WHERE launch_id = $1 AND status = 'queued'`, [launchId, refusal]);
  }

  /**
   * A worker's heartbeat for the launches it runs; returns the ids among them it no longer holds
   * (aborted by the driver, or declared lost): their attempts are aborted.
   */
  async heartbeat(db: SqlSession, worker: string, ids: readonly string[], now: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const res = await db.query(
      `WITH beat AS (
         UPDATE ${this.#t} SET heartbeat_at = $3 WHERE launch_id = ANY($2::uuid[]) AND status = 'running' AND worker = $1 AND heartbeat_at IS DISTINCT FROM ${HANDED_BACK} RETURNING launch_id
       )
       SELECT launch_id FROM ${this.#t} WHERE launch_id = ANY($2::uuid[]) AND launch_id NOT IN (SELECT launch_id FROM beat)`,
      [worker, ids, now],
    );
    return res.rows.map((row: Record<string, unknown>) => String(row['launch_id']));
  }
}
