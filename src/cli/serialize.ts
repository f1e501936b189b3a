import type { FlowRunRecord } from '../records.ts';

/** JSON for `--json`: errors as `{ name, message, stack }`, BigInts as strings, Maps/Sets as arrays. */
export function runRecordToJson(record: FlowRunRecord): string {
  return JSON.stringify(
    record,
    (_key, value: unknown) => {
      if (value instanceof Error) {
        return { name: value.name, message: value.message, ...(value.cause !== undefined ? { cause: String(value.cause) } : {}) };
      }
      if (typeof value === 'bigint') return value.toString();
      if (value instanceof Map) return [...value.entries()];
      if (value instanceof Set) return [...value.values()];
      return value;
    },
    2,
  );
}
