import { CONCURRENCY_LABEL } from '../runtime/settings.ts';
import type { SqlSession } from '../stores/postgresStore.ts';
import { deserializeValue } from '../stores/serialization.ts';

/**
 * A run a worker may adopt, and why.
 *
 * @example
 * ```ts
 * for (const { runId, why } of await findAdoptable(store.pool, '"taskmachine"', flows, Date.now())) console.log(runId, why);
 * ```
 */
export interface AdoptableRun {
  readonly runId: string;
  readonly flowId: string;
  readonly why: string;
  /** The concurrency its first driver ran it with (label `taskmachine/concurrency`), if stored. */
  readonly concurrency?: number;
}

/** The `taskmachine/concurrency` label of a run's stored labels (superjson text), when valid. */
function storedConcurrency(labels: unknown): number | undefined {
  if (typeof labels !== 'string') return undefined;
  try {
    const value = Number(deserializeValue<Record<string, unknown> | undefined>(labels)?.[CONCURRENCY_LABEL]);
    return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs of these flows, started with `executor: 'workers'` (label `taskmachine/executor`), not
 * finished, whose lease is missing, released (`run --detach`, a driver that shut down) or expired
 * at `now` (a driver that died), whose stored flow hash is the worker's (`runs.flow_hash`, store
 * migration 4), and whose attempts were never launched with another definition than the worker's. Taking one is then `startFlow(…, { resume: true })`: the lease decides who wins.
 *
 * @example
 * ```ts
 * const runs = await findAdoptable(store.pool, '"taskmachine"', [{ flowId: 'etl', hash }], Date.now());
 * ```
 */
export async function findAdoptable(
  db: SqlSession,
  schema: string,
  flows: ReadonlyArray<{ flowId: string; hash: string }>,
  now: number,
): Promise<AdoptableRun[]> {
  const res = await db.query(
    `SELECT r.run_id, r.flow_id, r.labels, l.run_id IS NULL AS no_lease, l.released_at IS NOT NULL AS released
     FROM ${schema}.runs r
     JOIN unnest($1::text[], $2::text[]) AS f(flow_id, hash) ON f.flow_id = r.flow_id
     LEFT JOIN ${schema}.leases l ON l.run_id = r.run_id
     WHERE r.state IN ('queued', 'running')
       AND r.labels LIKE '%"taskmachine/executor":"workers"%'
       AND (l.run_id IS NULL OR l.released_at IS NOT NULL OR l.expires_at < $3)
       AND (r.flow_hash IS NULL OR r.flow_hash = f.hash)
       AND NOT EXISTS (SELECT 1 FROM ${schema}.attempt_launches a WHERE a.run_id = r.run_id AND a.flow_hash <> f.hash)
     ORDER BY r.created_at
     LIMIT 100`,
    [flows.map((f) => f.flowId), flows.map((f) => f.hash), now],
  );
  return res.rows.map((row: Record<string, unknown>) => {
    const concurrency = storedConcurrency(row['labels']);
    return {
      runId: String(row['run_id']),
      flowId: String(row['flow_id']),
      why: row['no_lease'] === true ? 'it had no driver' : row['released'] === true ? 'its driver let go of it' : "its driver's lease expired",
      ...(concurrency === undefined ? {} : { concurrency }),
    };
  });
}
