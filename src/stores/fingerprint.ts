import { createHash } from 'node:crypto';
import { toSuperJsonTree } from './serialization.ts';

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A stable fingerprint of a run's input: the SHA-256 (64 hex characters) of its superjson form
 * with object keys sorted, so `{ a, b }` and `{ b, a }` match while a Date and its ISO string, or
 * `1n` and `1`, do not. Array, Map and Set order counts; shared references count as copies. Stored in `StoredRun.inputFingerprint`
 * and compared when a run id is re-run (`onInputChange`). Throws `StoreSerializationError` for
 * inputs that cannot be stored.
 *
 * @example
 * ```ts
 * import { inputFingerprint } from 'taskmachine/stores';
 * inputFingerprint({ day: '2026-11-22', full: true }) === inputFingerprint({ full: true, day: '2026-11-22' }); // true
 * ```
 */
export function inputFingerprint(input: unknown): string {
  const tree = toSuperJsonTree(input) as { json: unknown; meta?: { values?: unknown } };
  // Referential-equality annotations depend on key order (the first path an object is met at is
  // the reference); leave them out so equal values match however they are shared.
  const form = tree.meta?.values === undefined ? { json: tree.json } : { json: tree.json, values: tree.meta.values };
  return createHash('sha256').update(canonicalJson(form)).digest('hex');
}
