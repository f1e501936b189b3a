import { describeValue } from '../errors.ts';
import type { FlowRunRecord } from '../records.ts';

/**
 * JSON for `--json`: errors as `{ name, message, cause? }`, BigInts as strings, Maps/Sets as
 * arrays, and a reference back to an object it is inside of (a circular result) as the string
 * `"[Circular]"` — whatever tasks returned, this never throws.
 */
export function runRecordToJson(record: FlowRunRecord): string {
  return JSON.stringify(jsonSafe(record, new Set()), undefined, 2);
}

/** `value` as plain JSON data; `inside` holds the objects on the path from the root to it. */
function jsonSafe(value: unknown, inside: Set<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (inside.has(value)) return '[Circular]';
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof Error) {
      return { name: value.name, message: value.message, ...(value.cause !== undefined ? { cause: describeValue(value.cause) } : {}) };
    }
    inside.add(value);
    try {
      if (value instanceof Map) return [...value.entries()].map((entry) => jsonSafe(entry, inside));
      if (value instanceof Set || Array.isArray(value)) return [...(value as Iterable<unknown>)].map((item) => jsonSafe(item, inside));
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return jsonSafe((value as { toJSON(): unknown }).toJSON(), inside);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const item = jsonSafe((value as Record<string, unknown>)[key], inside);
        if (item !== undefined && typeof item !== 'function' && typeof item !== 'symbol') out[key] = item;
      }
      return out;
    } finally {
      inside.delete(value);
    }
  } catch (error) {
    return `[unreadable: ${describeValue(error)}]`;
  }
}
