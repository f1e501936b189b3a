import type { Store } from '../stores/index.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import { LaunchTable } from '../runtime/remote/launchTable.ts';
import { WORKER_TIMING } from '../runtime/remote/timing.ts';
import { wrapLine } from './wrapText.ts';
import { shellWord } from '../shellWord.ts';

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
    `\n${wrapLine(`Not progressing: ${refused.length} attempt${refused.length === 1 ? '' : 's'} (${shown}) wait${refused.length === 1 ? 's' : ''} for a worker to run ${refused.length === 1 ? 'it' : 'them'}:`)}\n` +
    reasons.map((reason) => `${wrapLine(`  ${reason}`)}\n`).join('')
  );
}

/**
 * An attempt of a run that no worker took (none runs, or none loaded the flow), waiting since
 * `since` (epoch ms).
 *
 * @example
 * ```ts
 * const waiting: UnclaimedAttempt = { key: 'extract', attempt: 1, since: Date.now() - 60_000 };
 * ```
 */
export interface UnclaimedAttempt {
  readonly key: string;
  readonly attempt: number;
  readonly since: number;
}

/**
 * The attempts of a run on workers that waited `WORKER_TIMING.unclaimedNoticeMs` or more, none
 * refused, while no worker runs any attempt (of any run) in the store; `[]` for other stores.
 *
 * @example
 * ```ts
 * const waiting = await unclaimedAttempts(store, 'nightly', Date.now());
 * ```
 */
export async function unclaimedAttempts(store: Store, runId: string, now: number): Promise<UnclaimedAttempt[]> {
  const postgres = store as Partial<PostgresStore>;
  if (postgres.pool === undefined || typeof postgres.schema !== 'string') return [];
  return new LaunchTable(`"${postgres.schema}"`).unclaimed(postgres.pool, runId, now - WORKER_TIMING.unclaimedNoticeMs, now - WORKER_TIMING.lostAfterMs);
}

/**
 * What `status` prints about them: no worker takes the run's attempts, and how to start one.
 *
 * @example
 * ```ts
 * if (waiting.length > 0) stdout(unclaimedText(waiting, Date.now(), ' --store postgres://…', 'flows/etl.ts'));
 * ```
 */
export function unclaimedText(waiting: readonly UnclaimedAttempt[], now: number, storeArg: string, flowFile?: string): string {
  const keys = waiting.map((w) => `${w.key}#${w.attempt}`);
  const shown = keys.length > 5 ? `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more` : keys.join(', ');
  const seconds = Math.round((now - Math.min(...waiting.map((w) => w.since))) / 1000);
  return (
    `\n${wrapLine(`Not progressing: ${waiting.length === 1 ? `1 attempt (${shown}) has waited ${seconds} s` : `${waiting.length} attempts (${shown}) have waited up to ${seconds} s`} and no worker took ${waiting.length === 1 ? 'it' : 'them'}.`)}\n` +
    `  Is a worker running with this flow? Start one with:\n    taskmachine worker ${flowFile === undefined ? '<the flow file>' : shellWord(flowFile)}${storeArg}\n`
  );
}
