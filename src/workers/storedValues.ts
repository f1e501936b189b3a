import type { UpstreamRef } from '../runtime/scheduling/dependencyTracker.ts';
import { frozen } from '../frozen.ts';
import type { PostgresStore, StoredResultRead } from '../stores/postgresStore.ts';
import { serializeValue } from '../stores/serialization.ts';

/**
 * A bound of {@link StoredValues}' cache (see {@link STORED_VALUES_BOUND}).
 *
 * @example
 * ```ts
 * const bound: StoredValuesBound = { chars: 1_000_000, values: 1_000, largestChars: 100_000 };
 * ```
 */
export interface StoredValuesBound {
  chars: number;
  values: number;
  largestChars: number;
}

/**
 * The bound of a worker's cache of stored values (shared by every run it works for): at most this
 * many characters of stored (superjson) text and this many values; the least recently used go
 * first. A value longer than `largestChars` is not kept (it is read again for each attempt).
 *
 * @example
 * ```ts
 * STORED_VALUES_BOUND.chars; // 67_108_864
 * ```
 */
export const STORED_VALUES_BOUND: Readonly<StoredValuesBound> = Object.freeze({
  /** 64 Mi characters of stored text in all. */
  chars: 64 * 1024 * 1024,
  /** 100,000 values in all (a value's own overhead bounds memory when values are tiny). */
  values: 100_000,
  /** 16 Mi characters: a larger value is read per attempt, not kept. */
  largestChars: 16 * 1024 * 1024,
});

/**
 * A result record a job referred to that is not in the store (its run was deleted, its instance
 * cleared): the attempt fails (`infrastructure`).
 *
 * @example
 * ```ts
 * if (error instanceof MissingResultError) console.log(error.message);
 * ```
 */
export class MissingResultError extends Error {
  override readonly name = 'MissingResultError';
}

interface Entry {
  readonly value: unknown;
  readonly chars: number;
}

type Loaded = ReadonlyMap<string, Entry>;

/**
 * What a worker reads instead of values carried by jobs: a run's input and its result records,
 * named by `(key, attempt)` — written once, never changed, so a cached one is never stale. Each is
 * read once per run, driver session (see `AttemptPayload.session`) and worker while it stays in the
 * cache (bounded: {@link STORED_VALUES_BOUND}); attempts that need the same record at the same time
 * share one read. Values are given as a local run gives them: deserialized by the store, deeply
 * frozen (`KeptValues`), the same object to every attempt; a mapped task's list is a new array per
 * attempt, as `DependencyTracker.upstreamValues` makes one per attempt.
 *
 * @example
 * ```ts
 * const values = new StoredValues(store);
 * const upstream = await values.upstream('nightly', session, [{ id: 'extract', key: 'extract', attempt: 1 }]);
 * upstream.extract; // the stored result of attempt 1 of 'extract'
 * ```
 */
export class StoredValues {
  readonly #store: PostgresStore;
  readonly #bound: Readonly<StoredValuesBound>;
  /** Cached values, least recently used first (Map order; a hit moves its entry to the end). */
  readonly #cache = new Map<string, Entry>();
  #chars = 0;
  /** Reads in flight, by cache key: an attempt that needs a value being read waits for that read. */
  readonly #reading = new Map<string, Promise<Loaded>>();
  /** Result records read from the store so far (for tests and diagnostics). */
  recordsRead = 0;

  constructor(store: PostgresStore, bound: Partial<StoredValuesBound> = {}) {
    this.#store = store;
    this.#bound = { ...STORED_VALUES_BOUND, ...bound };
  }

  /** The run's input as its tasks receive it (the run record's). */
  async input(runId: string, session: string): Promise<unknown> {
    const key = `${runId}\u0000${session}\u0000input`;
    const hit = this.#hit(key);
    if (hit !== undefined) return hit.value;
    let reading = this.#reading.get(key);
    if (reading === undefined) {
      reading = this.#read(key, async () => {
        const run = await this.#store.getRun(runId);
        if (run === undefined) throw new MissingResultError(`run '${runId}' is not in the store`);
        // (Its length as stored, for the bound: the run record does not give the text.)
        return new Map([[key, { value: frozen(run.input), chars: run.input === undefined ? 0 : serializeValue(run.input).length }]]);
      });
    }
    return (await reading).get(key)!.value;
  }

  /**
   * The `upstream` argument of an attempt: one key per ref, in order, on a null-prototype object
   * (as a local run's). Rejects with {@link MissingResultError} when a record is not stored.
   */
  async upstream(runId: string, session: string, refs: readonly UpstreamRef[]): Promise<Record<string, unknown>> {
    const prefix = `${runId}\u0000${session}\u0000`;
    const wanted = new Map<string, { key: string; attempt: number }>();
    for (const ref of refs) {
      if ('count' in ref) {
        for (let i = 0; i < ref.count; i++) {
          const attempt = typeof ref.attempts === 'number' ? ref.attempts : ref.attempts[i]!;
          if (attempt > 0) {
            const key = ref.keys?.[i] ?? `${ref.id}[${i}]`;
            wanted.set(`${prefix}${attempt}:${key}`, { key, attempt });
          }
        }
      } else if (ref.key !== undefined && ref.attempt !== undefined && ref.attempt > 0) {
        wanted.set(`${prefix}${ref.attempt}:${ref.key}`, { key: ref.key, attempt: ref.attempt });
      }
    }
    const found = new Map<string, unknown>();
    const missing: Array<{ cacheKey: string; key: string; attempt: number }> = [];
    const waits: Array<Promise<void>> = [];
    for (const [cacheKey, id] of wanted) {
      const hit = this.#hit(cacheKey);
      if (hit !== undefined) {
        found.set(cacheKey, hit.value);
        continue;
      }
      const reading = this.#reading.get(cacheKey);
      if (reading === undefined) missing.push({ cacheKey, ...id });
      else waits.push(reading.then((loaded) => void found.set(cacheKey, loaded.get(cacheKey)!.value)));
    }
    if (missing.length > 0) {
      const reading = this.#read(
        missing.map((m) => m.cacheKey),
        async () => {
          const rows = await this.#store.readResults(runId, missing);
          this.recordsRead += rows.length;
          const loaded = new Map<string, Entry>();
          for (const row of rows as StoredResultRead[]) loaded.set(`${prefix}${row.attempt}:${row.key}`, { value: frozen(row.value), chars: row.chars });
          const absent = missing.find((m) => !loaded.has(m.cacheKey));
          if (absent !== undefined) {
            throw new MissingResultError(`the result of attempt ${absent.attempt} of '${absent.key}' (run '${runId}') is not in the store: its run was deleted or the instance cleared`);
          }
          return loaded;
        },
      );
      waits.push(reading.then((loaded) => void missing.forEach((m) => found.set(m.cacheKey, loaded.get(m.cacheKey)!.value))));
    }
    await Promise.all(waits);
    const upstream: Record<string, unknown> = Object.create(null);
    for (const ref of refs) {
      if ('count' in ref) {
        const list = new Array<unknown>(ref.count);
        for (let i = 0; i < ref.count; i++) {
          const attempt = typeof ref.attempts === 'number' ? ref.attempts : ref.attempts[i]!;
          list[i] = attempt > 0 ? found.get(`${prefix}${attempt}:${ref.keys?.[i] ?? `${ref.id}[${i}]`}`) : undefined;
        }
        upstream[ref.id] = list;
      } else {
        upstream[ref.id] = ref.key !== undefined && ref.attempt !== undefined && ref.attempt > 0 ? found.get(`${prefix}${ref.attempt}:${ref.key}`) : undefined;
      }
    }
    return upstream;
  }

  /** Values cached now (for tests). */
  get size(): number {
    return this.#cache.size;
  }

  #hit(cacheKey: string): Entry | undefined {
    const entry = this.#cache.get(cacheKey);
    if (entry === undefined) return undefined;
    this.#cache.delete(cacheKey);
    this.#cache.set(cacheKey, entry);
    return entry;
  }

  /** Runs one read for these cache keys (waiters share it), then keeps what it read within the bound. */
  #read(cacheKeys: string | readonly string[], load: () => Promise<Loaded>): Promise<Loaded> {
    const keys = typeof cacheKeys === 'string' ? [cacheKeys] : cacheKeys;
    const reading = load();
    for (const key of keys) this.#reading.set(key, reading);
    const forget = (): void => {
      for (const key of keys) if (this.#reading.get(key) === reading) this.#reading.delete(key);
    };
    reading.then((loaded) => {
      forget();
      for (const [key, entry] of loaded) this.#keep(key, entry);
    }, forget);
    return reading;
  }

  #keep(cacheKey: string, entry: Entry): void {
    if (entry.chars > this.#bound.largestChars || this.#cache.has(cacheKey)) return;
    this.#cache.set(cacheKey, entry);
    this.#chars += entry.chars;
    for (const [key, old] of this.#cache) {
      if (this.#chars <= this.#bound.chars && this.#cache.size <= this.#bound.values) break;
      this.#cache.delete(key);
      this.#chars -= old.chars;
    }
  }
}
