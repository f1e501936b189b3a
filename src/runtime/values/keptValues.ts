import { frozen } from '../../frozen.ts';
import { describeValue, toError, UnstorableValueError } from '../../errors.ts';
import { deserializeValue, serializeValue, StoreSerializationError } from '../../stores/index.ts';

/** A value a run keeps, or why it cannot. */
export type Kept = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: StoreSerializationError };

/**
 * What a run does with the values that pass between tasks — the run's input, results, a child's
 * call input, checkpoint data — so that none can stop the run and no task can change what another
 * sees:
 * - With a store, a value is kept as the store will give it back (serialized, read back, deeply
 *   frozen): a live downstream task sees exactly what a resumed one would, and a value that cannot
 *   be stored is refused here, naming its path, instead of failing the run's next commit.
 * - Without a store, values are not copied (they may hold anything, such as a client object);
 *   plain data in them (objects, arrays, Map, Set) is frozen. The run's input is copied first, so
 *   the caller's object is never frozen or changed.
 * Primitives pass as they are.
 */
const KEPT_UNDEFINED: Kept = Object.freeze({ ok: true, value: undefined });

export class KeptValues {
  readonly #durable: boolean;

  constructor(durable: boolean) {
    this.#durable = durable;
  }

  /** The run's input as tasks receive it (for a store: as stored). Throws when it cannot be stored. */
  input(value: unknown): unknown {
    if (!isObjectish(value)) return value;
    if (this.#durable) return frozen(deserializeValue(serializeValue(value)));
    return frozen(copyPlain(value, new Map()));
  }

  /** A value a task hands over (its result, a child's input, checkpoint data). */
  keep(value: unknown): Kept {
    // (What most tasks return: one shared answer instead of an object per attempt.)
    if (value === undefined) return KEPT_UNDEFINED;
    // (Functions and symbols are objectish: with a store, serializeValue refuses them below.)
    if (!isObjectish(value)) {
      // (Only a string can be long enough; escaping at most sextuples its characters.)
      if (this.#durable && typeof value === 'string' && value.length > MAX_STORED_VALUE_BYTES / 6) {
        let tooLarge: StoreSerializationError | undefined;
        try {
          tooLarge = sizeProblem(serializeValue(value));
        } catch (error) {
          // (Escaped, it would be longer than V8's longest string: too large, like any over the limit.)
          tooLarge = unserializable(error);
        }
        if (tooLarge !== undefined) return { ok: false, error: tooLarge };
      }
      return { ok: true, value };
    }
    if (!this.#durable) return { ok: true, value: frozen(value) };
    try {
      const text = serializeValue(value);
      const tooLarge = sizeProblem(text);
      if (tooLarge !== undefined) return { ok: false, error: tooLarge };
      return { ok: true, value: frozen(deserializeValue(text)) };
    } catch (error) {
      return { ok: false, error: unserializable(error) };
    }
  }

  /**
   * A task's result, or the non-retryable failure of its attempt when the result cannot be stored
   * (it would return the same value again).
   */
  result(taskKey: string, value: unknown): { ok: true; value: unknown } | { ok: false; error: UnstorableValueError } {
    const kept = this.keep(value);
    return kept.ok ? kept : { ok: false, error: new UnstorableValueError(`task instance '${taskKey}' returned a value that`, kept.error) };
  }

  /**
   * An error as the run keeps it: with a store, one whose extra parts (a function property, a
   * Proxy as `cause`) cannot be stored is replaced by an `Error` with the same name, message and
   * stack, and only the parts that can be.
   */
  error(error: Error): Error {
    if (!this.#durable) return error;
    let kept = error;
    try {
      if (sizeProblem(serializeValue(error)) === undefined) return error;
    } catch {
      // Parts that cannot be stored dropped; then its size checked like any error's.
      kept = storablePart(error);
      try {
        if (sizeProblem(serializeValue(kept)) === undefined) return kept;
      } catch {
        // (Too long to serialize at all: cut below.)
      }
    }
    return cutToStore(storablePart(kept));
  }
}

/** Why a value could not be serialized, as the store would say it. */
function unserializable(error: unknown): StoreSerializationError {
  if (error instanceof StoreSerializationError) return error;
  if (error instanceof RangeError) {
    const problem = 'it is too large to store (its stored form would be longer than the longest string JavaScript can hold)';
    return new StoreSerializationError({ path: '$', problem, message: `${problem}.`, fix: 'Keep large data elsewhere (a file, an object store) and hand over where it is.' });
  }
  return new StoreSerializationError({ path: '$', problem: `it cannot be stored (${describeValue(error)})`, message: toError(error).message });
}

/**
 * The most UTF-8 bytes one stored value (a result, checkpoint data, an error) may take. SQLite
 * refuses a string or blob over 1e9 bytes and PostgreSQL a field over 1 GB, and a value that big
 * would fail every commit it is in — the run would stop on each resume. Well below both, it fails
 * the one attempt that handed it over instead.
 */
const MAX_STORED_VALUE_BYTES = 64 * 1024 * 1024;

/** Why a stored text is too large to store, or `undefined` when it is not. */
function sizeProblem(text: string): StoreSerializationError | undefined {
  // (A UTF-8 character takes at most 3 bytes per UTF-16 unit: most texts are cleared without counting.)
  if (text.length * 3 <= MAX_STORED_VALUE_BYTES) return undefined;
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_STORED_VALUE_BYTES) return undefined;
  const mib = (n: number) => `${Math.round(n / (1024 * 1024)).toLocaleString('en-US')} MiB`;
  const problem = `it takes ${mib(bytes)} stored, more than the ${mib(MAX_STORED_VALUE_BYTES)} one stored value may take`;
  return new StoreSerializationError({
    path: '$',
    problem,
    message: `${problem}.`,
    fix: 'Keep large data elsewhere (a file, an object store) and hand over where it is.',
  });
}

/** An error whose stored form is too large, with its message and stack cut to a size that is stored. */
function cutToStore(error: Error): Error {
  const keep = 64 * 1024;
  const cut = (text: string) => (text.length <= keep ? text : `${text.slice(0, keep)}… (${text.length.toLocaleString('en-US')} characters in all: cut to be stored)`);
  const copy = new Error(cut(error.message));
  copy.name = error.name;
  if (error.stack !== undefined) copy.stack = cut(error.stack);
  return copy;
}

function isObjectish(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function' || typeof value === 'symbol';
}

/** A copy of the plain data in `value` (objects, arrays, Map, Set); anything else is shared. */
function copyPlain(value: unknown, copies: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  try {
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      copies.set(value, copy);
      for (const item of value) copy.push(copyPlain(item, copies));
      return copy;
    }
    if (value instanceof Map) {
      const copy = new Map<unknown, unknown>();
      copies.set(value, copy);
      for (const [key, item] of value) copy.set(key, copyPlain(item, copies));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set<unknown>();
      copies.set(value, copy);
      for (const item of value) copy.add(copyPlain(item, copies));
      return copy;
    }
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return value;
    const copy: Record<string, unknown> = Object.create(prototype) as Record<string, unknown>;
    copies.set(value, copy);
    for (const key of Object.keys(value)) {
      const item = copyPlain((value as Record<string, unknown>)[key], copies);
      // (An own `__proto__` key stays a key: assigning it would set the copy's prototype.)
      if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
      else copy[key] = item;
    }
    return copy;
  } catch {
    return value;
  }
}

/** An Error with what of `error` can be stored: name, message, stack, and `cause`/props if they can. */
function storablePart(error: Error): Error {
  const read = (get: () => unknown): unknown => {
    try {
      return get();
    } catch {
      return undefined;
    }
  };
  const message = read(() => error.message);
  const copy = new Error(typeof message === 'string' ? message : describeValue(error));
  const name = read(() => error.name);
  if (typeof name === 'string') copy.name = name;
  const stack = read(() => error.stack);
  if (typeof stack === 'string') copy.stack = stack;
  const cause = read(() => error.cause);
  if (cause !== undefined && storable(cause)) copy.cause = cause;
  for (const key of read(() => Object.keys(error)) as string[] | undefined ?? []) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    const item = read(() => (error as unknown as Record<string, unknown>)[key]);
    if (storable(item)) (copy as unknown as Record<string, unknown>)[key] = item;
  }
  return copy;
}

function storable(value: unknown): boolean {
  try {
    serializeValue(value);
    return true;
  } catch {
    return false;
  }
}
