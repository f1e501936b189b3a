import { freeze } from 'immer';

/**
 * Values the runtime hands over as they are: primitives, functions, and objects the runtime never
 * freezes (immer's deep freeze only freezes plain objects, arrays, Maps and Sets).
 */
type KeptAsIs =
  | string
  | number
  | boolean
  | bigint
  | symbol
  | null
  | undefined
  | void
  | ((...args: any[]) => unknown)
  | Date
  | RegExp
  | Error
  | ArrayBufferView
  | ArrayBuffer
  | PromiseLike<unknown>;

/**
 * A value as another task receives it: deeply read-only, because the runtime deep-freezes results,
 * mapped items and call results before handing them over (plain objects, arrays, Maps and Sets;
 * other class instances keep their own methods and are left as they are). `any` and `unknown`
 * stay as they are.
 *
 * @example
 * ```ts
 * type Row = { id: number; tags: string[] };
 * type Seen = Frozen<Row[]>; // readonly { readonly id: number; readonly tags: readonly string[] }[]
 * ```
 */
export type Frozen<T> = 0 extends 1 & T
  ? T
  : T extends KeptAsIs
    ? T
    : T extends ReadonlyMap<infer K, infer V>
      ? ReadonlyMap<Frozen<K>, Frozen<V>>
      : T extends ReadonlySet<infer V>
        ? ReadonlySet<Frozen<V>>
        : T extends object
          ? { readonly [K in keyof T]: Frozen<T[K]> }
          : T;

/**
 * Deep-freezes plain data (immer's freeze: objects, arrays, Map, Set; class instances and Dates are
 * left as they are); never throws. What {@link Frozen} describes in types.
 *
 * @example
 * ```ts
 * const rows = frozen([{ id: 1 }]); // Object.isFrozen(rows[0]) === true
 * ```
 */
export function frozen<T>(value: T): T {
  try {
    return freeze(value, true);
  } catch {
    // (A value whose reads throw is left as it is; it is the task's own.)
    return value;
  }
}
