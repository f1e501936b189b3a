import type { PgBoss } from 'pg-boss';
import type { UpstreamRef } from '../scheduling/dependencyTracker.ts';
import type { TaskArgs } from '../../flow/types.ts';
import type { TaskInstance } from '../instances/taskInstance.ts';
import type { PostgresStore, SqlSession } from '../../stores/postgresStore.ts';

/**
 * The pg-boss queue every attempt job goes to (in the schema {@link bossSchema}).
 *
 * @example
 * ```ts
 * await boss.getQueue(ATTEMPT_QUEUE); // its counts, for a dashboard
 * ```
 */
export const ATTEMPT_QUEUE = 'taskmachine-attempts';

/**
 * pg-boss's own schema beside a store's: `<store schema>_jobs` (`taskmachine_jobs` by default), so
 * stores on different schemas of one database have separate queues.
 *
 * @example
 * ```ts
 * bossSchema('taskmachine'); // 'taskmachine_jobs'
 * ```
 */
export function bossSchema(storeSchema: string): string {
  return `${storeSchema}_jobs`;
}

/**
 * What an attempt job carries (pg-boss `data`).
 *
 * @example
 * ```ts
 * const job = (await boss.fetch<AttemptJobData>(ATTEMPT_QUEUE))[0];
 * job?.data.launchId;
 * ```
 */
export interface AttemptJobData {
  /** The attempt launch (row of `attempt_launches`) the job runs. */
  readonly launchId: string;
  readonly runId: string;
  readonly flowId: string;
  readonly flowHash: string;
  readonly key: string;
  readonly taskId: string;
  readonly attempt: number;
  /** superjson text of {@link AttemptPayload}. */
  readonly payload: string;
  /**
   * The payload's format: {@link ATTEMPT_PAYLOAD_FORMAT} (references to stored values). Absent in
   * jobs of drivers that put the values in the job: a worker refuses those (with one log line).
   */
  readonly format?: number;
}

/**
 * The format of {@link AttemptPayload} this version writes and runs: 2, references to stored values
 * (jobs without a format carried the values).
 *
 * @example
 * ```ts
 * job.data.format === ATTEMPT_PAYLOAD_FORMAT; // a job this worker can run
 * ```
 */
export const ATTEMPT_PAYLOAD_FORMAT = 2;

/**
 * The pg-boss group of an attempt's job: its run, flow, definition and payload format. A worker
 * that refused one attempt of a run (another definition, a flow it did not load) refuses them all,
 * so its fetches pass the groups it refused as `ignoreGroups` — the jobs stay with the workers
 * that can run them instead of being fetched and handed back over and over.
 *
 * @example
 * ```ts
 * boss.insert(ATTEMPT_QUEUE, [{ data, group: { id: attemptGroup(data) } }]);
 * ```
 */
export function attemptGroup(data: AttemptJobData): string {
  return JSON.stringify([data.format ?? 1, data.flowId, data.flowHash, data.runId]);
}

/**
 * What a worker needs to run one attempt, besides the flow definition. Values every attempt of a
 * run shares are not in it but referred to — the run's input, upstream results, a mapped
 * instance's item — so a job stays small whatever they weigh (a map's instances would each carry
 * the whole list); the worker reads them from the store (see `StoredValues`).
 *
 * @example
 * ```ts
 * const payload = deserializeValue<AttemptPayload>(job.data.payload);
 * payload.upstream; // [{ id: 'extract', key: 'extract', attempt: 1 }]: where the upstream results are stored
 * ```
 */
export interface AttemptPayload {
  /**
   * The driver's session of the run (random per opening): stored values are cached per run and
   * session, so a run deleted and started again under its id (`onInputChange: 'reset'`) is never
   * given an earlier incarnation's values.
   */
  readonly session: string;
  /** The run's input: the run record's (`{ stored: true }`), or this value. */
  readonly input: { readonly stored: true } | { readonly value: unknown };
  /** Where the value of each upstream task is stored, in the task's upstream order. */
  readonly upstream: readonly UpstreamRef[];
  readonly mapIndex?: number;
  /** A mapped instance's item: element `mapIndex` of this upstream task's value (its list)… */
  readonly itemOf?: string;
  /** …or, when it is not that element (`itemOf` absent), this value. */
  readonly item?: unknown;
  readonly callInput?: unknown;
  readonly parentKey?: string;
  readonly customContext: Readonly<Record<string, string>>;
  readonly maxAttempts: number;
  readonly retries: number;
  readonly resumeData?: unknown;
  readonly eventPayload?: unknown;
  /**
   * What the driver's run listeners give the attempt to carry (`RunListener.attemptCarrier`), e.g.
   * `{ traceparent }`: the worker runs task code with that span as its parent. Absent when none.
   */
  readonly carried?: Readonly<Record<string, string>>;
}

/**
 * The payload of an attempt's job, as a driver hands the attempt of `instance` out: what the
 * worker needs besides the flow, with stored values referred to (see {@link AttemptPayload}).
 *
 * @example
 * ```ts
 * const payload = attemptPayload(instance, args, { session, inputStored: true, upstream: tracker.upstreamRefs(instance), customContext: {}, carried: undefined });
 * ```
 */
export function attemptPayload(
  instance: TaskInstance,
  args: TaskArgs,
  parts: { session: string; inputStored: boolean; upstream: UpstreamRef[]; customContext: Readonly<Record<string, string>>; carried: Readonly<Record<string, string>> | undefined },
): AttemptPayload {
  const { upstream, carried } = parts;
  // A mapped instance's item is element mapIndex of its list task's value (its first upstream)
  // unless the list changed since the map was expanded: then the item goes in the job.
  let itemOf: string | undefined;
  if (args.mapIndex !== undefined && upstream.length > 0) {
    const list = (args.upstream as Readonly<Record<string, unknown>>)[upstream[0]!.id];
    if (Array.isArray(list) && args.mapIndex < list.length && Object.is(list[args.mapIndex], args.item)) itemOf = upstream[0]!.id;
  }
  return {
    session: parts.session,
    input: parts.inputStored ? { stored: true } : { value: args.input },
    upstream,
    ...(args.mapIndex === undefined ? {} : { mapIndex: args.mapIndex }),
    ...(args.mapIndex === undefined ? {} : itemOf !== undefined ? { itemOf } : { item: args.item }),
    ...(instance.callInput === undefined ? {} : { callInput: instance.callInput }),
    ...(instance.parentKey === undefined ? {} : { parentKey: instance.parentKey }),
    customContext: parts.customContext,
    maxAttempts: instance.context.maxAttempts,
    retries: instance.context.retries,
    ...(instance.resumeData === undefined ? {} : { resumeData: instance.resumeData }),
    ...(instance.eventPayload === undefined ? {} : { eventPayload: instance.eventPayload }),
    ...(carried === undefined ? {} : { carried }),
  };
}

interface Shared {
  users: number;
  boss: Promise<PgBoss>;
}

const shared = new WeakMap<PostgresStore, Shared>();

/**
 * The connection settings of the store's pool (the connection string included), for connections
 * of their own: pg-boss's, and the LISTEN connection of `notifications.ts`. Never logged.
 *
 * @example
 * ```ts
 * const client = new pg.Client(connectionOf(store));
 * ```
 */
export function connectionOf(store: PostgresStore): Record<string, unknown> {
  const options = store.pool.options as unknown as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const name of ['connectionString', 'host', 'port', 'user', 'password', 'database', 'ssl']) {
    if (options[name] !== undefined) picked[name] = options[name];
  }
  return picked;
}

/**
 * A started pg-boss on the store's database, shared by every user in this process (drivers and a
 * worker): acquire it, and {@link releaseBoss} what it returned when done; the last release stops
 * it. Drivers only insert jobs; `supervise` (pg-boss's maintenance) runs where `supervise` is asked
 * for (workers). Every user of one started pg-boss gets the same promise.
 *
 * @example
 * ```ts
 * const acquired = acquireBoss(store, { supervise: true });
 * try { const boss = await acquired; … } finally { await releaseBoss(store, acquired); }
 * ```
 */
export function acquireBoss(store: PostgresStore, options: { supervise?: boolean; listen?: boolean } = {}): Promise<PgBoss> {
  let entry = shared.get(store);
  if (entry === undefined) {
    const made: Shared = { users: 0, boss: startBoss(store, options) };
    shared.set(store, made);
    // (A pg-boss that failed to start is not shared: the next user starts another.)
    made.boss.catch(() => {
      if (shared.get(store) === made) shared.delete(store);
    });
    entry = made;
  }
  entry.users++;
  return entry.boss;
}

/**
 * Lets go of the shared pg-boss that {@link acquireBoss} returned (`acquired`); the last user
 * stops it. Releasing one that failed to start, or was released already, does nothing (it never
 * counts against another user's).
 *
 * @example
 * ```ts
 * await releaseBoss(store, acquired);
 * ```
 */
export async function releaseBoss(store: PostgresStore, acquired: Promise<PgBoss>): Promise<void> {
  const entry = shared.get(store);
  if (entry === undefined || entry.boss !== acquired) return;
  entry.users--;
  if (entry.users > 0) return;
  shared.delete(store);
  const boss = await entry.boss.catch(() => undefined);
  await boss?.stop({ graceful: false, close: true }).catch(() => {});
}

async function startBoss(store: PostgresStore, options: { supervise?: boolean; listen?: boolean }): Promise<PgBoss> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({
    ...connectionOf(store),
    schema: bossSchema(store.schema),
    application_name: 'taskmachine-jobs',
    max: 4,
    supervise: options.supervise === true,
    schedule: false,
    useListenNotify: options.listen === true,
    openTelemetry: { enabled: false },
    registerInstance: false,
  });
  // pg-boss reports background trouble (a lost connection during polling) as 'error' events;
  // without a listener they would crash the process. It retries on its own.
  boss.on('error', () => {});
  await boss.start();
  // Idempotent. Not pg-boss's NOTIFY: workers are woken by taskmachine's own notification, sent
  // after the driver's commit rather than inside it (a transaction that notifies holds
  // PostgreSQL's cluster-wide notification lock through its commit; see notifications.ts). A job that stays active 5 minutes is handed
  // out again (up to 100 times): the launch decides — a worker that fetched it and died before
  // claiming it leaves it queued, so the next worker claims it; one still running or finished
  // elsewhere cannot be claimed, and the job is just completed. Lost attempts are the driver's to
  // apply (an interruption), never pg-boss's retries.
  await boss.createQueue(ATTEMPT_QUEUE, { retryLimit: 100, retryDelay: 0, expireInSeconds: 300, deleteAfterSeconds: 3_600 });
  return boss;
}

/**
 * A store's transaction as pg-boss's `db` option (`{ executeSql }`).
 *
 * @example
 * ```ts
 * await store.commit(batch, (db) => boss.insert(ATTEMPT_QUEUE, jobs, { db: bossDb(db) }).then(() => {}));
 * ```
 */
export function bossDb(db: SqlSession): { executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }> } {
  return { executeSql: (text, values) => db.query(text, values) };
}
