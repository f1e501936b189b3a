import type { UpstreamCounts } from '../../flow/triggerRules.ts';

const FIELDS = [
  'total',
  'success',
  'skipped',
  'failed',
  'upstreamFailed',
  'removed',
  'setupTotal',
  'setupSuccess',
  'setupSkipped',
] as const satisfies readonly (keyof UpstreamCounts)[];
const WIDTH = FIELDS.length;

/**
 * A cursor over one row of the table. Read or update it right away: the next `at()` moves it.
 */
class CountsRow {
  declare total: number;
  declare success: number;
  declare skipped: number;
  declare failed: number;
  declare upstreamFailed: number;
  declare removed: number;
  declare setupTotal: number;
  declare setupSuccess: number;
  declare setupSkipped: number;
  readonly data: Int32Array;
  offset = 0;

  constructor(data: Int32Array) {
    this.data = data;
  }

  static {
    FIELDS.forEach((name, column) => {
      Object.defineProperty(this.prototype, name, {
        get(this: CountsRow) {
          return this.data[this.offset + column]!;
        },
        set(this: CountsRow, value: number) {
          this.data[this.offset + column] = value;
        },
      });
    });
  }
}

/**
 * Upstream counters of every task of a run in one `Int32Array` (36 bytes per task, outside the
 * JavaScript heap) instead of one nine-field object per task: a run keeps them for its whole length,
 * and at 100k tasks the objects alone were 10 MB of heap the garbage collector had to copy.
 *
 * `at(index)` returns a cursor on the task's row (or `undefined` for a task without upstreams)
 * that the trigger-rule functions read and update like an {@link UpstreamCounts} object.
 */
export class UpstreamCountsTable {
  readonly #present: Uint8Array;
  readonly #row: CountsRow;

  constructor(tasks: number) {
    this.#present = new Uint8Array(tasks);
    this.#row = new CountsRow(new Int32Array(tasks * WIDTH));
  }

  /** Starts counting for a task with `total` upstream instances. */
  add(index: number, total: number): void {
    this.#present[index] = 1;
    const row = this.#row;
    row.offset = index * WIDTH;
    row.data.fill(0, row.offset, row.offset + WIDTH);
    row.total = total;
  }

  /** The task's counters, valid until the next call of `at`; `undefined` when it has no upstreams. */
  at(index: number): UpstreamCounts | undefined {
    if (this.#present[index] !== 1) return undefined;
    const row = this.#row;
    row.offset = index * WIDTH;
    return row;
  }
}
