import type { Store } from '../stores/index.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import { LaunchTable } from '../runtime/remote/launchTable.ts';

/**
 * An attempt of a run that waits for a worker, and why workers refused it.
 *
 * @example
 * ```ts
 * const refusal: WorkerRefusal = { key: 'extract', attempt: 1, refusal: 'worker vm:1:ab refused it: …' };
 * ```
 */
export interface WorkerRefusal {
  readonly key: string;
  readonly attempt: number;
  readonly refusal: string;
}

/**
 * The attempts of a run (on a PostgreSQL store, `executor: 'workers'`) that workers refused — a
 * worker loaded another definition of the flow, or none of it — and that wait for one; `[]` for
 * other stores.
 *
 * @example
 * ```ts
 * const refused = await workerRefusals(store, 'nightly');
 * ```
 */
export async function workerRefusals(store: Store, runId: string): Promise<WorkerRefusal[]> {
  const postgres = store as Partial<PostgresStore>;
  if (postgres.pool === undefined || typeof postgres.schema !== 'string') return [];
  return new LaunchTable(`"${postgres.schema}"`).refusals(postgres.pool, runId);
}

/**
 * What `status` prints about them: why the run is not progressing.
 *
 * @example
 * ```ts
 * if (refused.length > 0) stdout(refusalText(refused));
 * ```
 */
export function refusalText(refused: readonly WorkerRefusal[]): string {
  const reasons = [...new Set(refused.map((r) => r.refusal))];
  const keys = refused.map((r) => `${r.key}#${r.attempt}`);
  const shown = keys.length > 5 ? `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more` : keys.join(', ');
  return (
    `\nNot progressing: ${refused.length} attempt${refused.length === 1 ? '' : 's'} (${shown}) wait${refused.length === 1 ? 's' : ''} for a worker that can run ${refused.length === 1 ? 'it' : 'them'}:\n` +
    reasons.map((reason) => `  ${reason}\n`).join('')
  );
}
