import type { Store } from '../stores/index.ts';

/** A run id made by taskmachine (a random UUID): `taskmachine status` lists these by their first 8 characters. */
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What may be the start of such an id: 8 characters or more, the CLI's rule (`findStoredRun`):
 * a mistyped or pruned id of 4 hex digits must not lead to a run nobody meant.
 */
const uuidStart = /^[0-9a-f]{8}[0-9a-f-]{0,28}$/i;

/**
 * The ids of the stored runs whose random id starts with `start`, as `taskmachine status` shows
 * them (8 characters or more), so the id a person copied from the CLI works in the address; `[]`
 * when `start` cannot be such a start. Only random UUID ids count: `nightly` never means
 * `nightly-2`. (It lists every run once: called only for an id no run has.)
 *
 * @example
 * ```ts
 * await runsStartingWith(store, '0fe04d20'); // ['0fe04d20-ca9d-4a20-af24-d68f8efc4657']
 * ```
 */
export async function runsStartingWith(store: Store, start: string): Promise<string[]> {
  if (!uuidStart.test(start)) return [];
  const lower = start.toLowerCase();
  return (await store.listRuns({ limit: Infinity })).map((summary) => summary.runId).filter((runId) => uuidShape.test(runId) && runId.toLowerCase().startsWith(lower));
}
