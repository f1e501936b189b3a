// A stored column read back: what deserializeValue does, with the row and column named when the
// value cannot be read (the store's readers build that name from the row they decode).
import { StoreSerializationError } from './errors.ts';
import { deserializeValue } from './serialization.ts';

/**
 * {@link deserializeValue} of one stored column: a value that cannot be read back names the row and
 * column it is in (`where`, e.g. `task instance 'a' of run 'r1' (table task_instances), column
 * error`) and the fix, not only what is wrong with it.
 *
 * @example
 * ```ts
 * deserializeColumn('{"json":1}', "run 'r1' (table runs), column input"); // 1
 * ```
 */
export function deserializeColumn<T = unknown>(text: string, where: string): T {
  try {
    return deserializeValue<T>(text);
  } catch (error) {
    if (!(error instanceof StoreSerializationError)) throw error;
    throw new StoreSerializationError({
      path: error.path,
      problem: error.problem,
      message: `Invalid stored value in ${where}: ${error.message} Restore the store from a backup, or correct the row (for a SQLite store, 'taskmachine check' lists every invalid row).`,
      cause: error,
    });
  }
}
