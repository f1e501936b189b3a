import { types as nodeTypes } from 'node:util';
import { Buffer } from 'node:buffer';
import SuperJSON from 'superjson';
import { describeValue } from '../errors.ts';
import { StoreSerializationError } from './errors.ts';

// The store's own SuperJSON instance: registrations never leak into (or depend on) the global one.
const superjson = new SuperJSON();

/** Keys refused anywhere in a payload: they are how prototype pollution gets in (`constructor.prototype`). */
const forbiddenKeys: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const builtinErrors: Readonly<Record<string, new (message?: string) => Error>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

interface SerializedError {
  [key: string]: JsonValue;
}

function isErrorValue(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/** Errors being serialized right now, so an error that is its own (indirect) cause terminates. */
const errorsInProgress = new Set<Error>();

function errorToJson(error: Error): SerializedError {
  const out: SerializedError = { name: String(error.name), message: String(error.message) };
  if (typeof error.stack === 'string') out['stack'] = error.stack;
  errorsInProgress.add(error);
  try {
    if ('cause' in error && !(isErrorValue(error.cause) && errorsInProgress.has(error.cause))) {
      out['cause'] = superjson.serialize(error.cause as never) as unknown as JsonValue;
    }
    const props: Record<string, unknown> = {};
    let hasProps = false;
    for (const key of Object.keys(error)) {
      if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
      props[key] = (error as unknown as Record<string, unknown>)[key];
      hasProps = true;
    }
    if (error instanceof AggregateError && Array.isArray(error.errors)) {
      props['errors'] = error.errors;
      hasProps = true;
    }
    if (hasProps) out['props'] = superjson.serialize(props as never) as unknown as JsonValue;
  } finally {
    errorsInProgress.delete(error);
  }
  return out;
}

function jsonToError(json: SerializedError): Error {
  const name = typeof json['name'] === 'string' ? json['name'] : 'Error';
  const message = typeof json['message'] === 'string' ? json['message'] : '';
  const props =
    json['props'] === undefined ? undefined : fromTree<Record<string, unknown>>(json['props'], '$props');
  let error: Error;
  if (name === 'AggregateError') {
    const errors = props !== undefined && Array.isArray(props['errors']) ? props['errors'] : [];
    error = new AggregateError(errors, message);
  } else {
    const Ctor = Object.hasOwn(builtinErrors, name) ? builtinErrors[name]! : Error;
    error = new Ctor(message);
    if (error.name !== name) error.name = name;
  }
  if (typeof json['stack'] === 'string') {
    Object.defineProperty(error, 'stack', { value: json['stack'], writable: true, configurable: true, enumerable: false });
  } else {
    delete (error as { stack?: string }).stack;
  }
  if (json['cause'] !== undefined) {
    const cause = fromTree(json['cause'], '$cause');
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
  if (props !== undefined) {
    for (const [key, value] of Object.entries(props)) {
      if (key === 'errors' && error instanceof AggregateError) continue;
      (error as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return error;
}

// Errors keep name, message, stack, cause (any storable value, recursively) and own enumerable
// properties such as `code`; built-in classes (TypeError, AggregateError, …) are restored as such,
// other classes as an `Error` with the original `name`.
superjson.registerCustom<Error, SerializedError>(
  { isApplicable: isErrorValue, serialize: errorToJson, deserialize: jsonToError },
  'taskmachine:Error',
);
// superjson's typed-array rule writes Buffers but cannot read them back; store them as base64.
superjson.registerCustom<Buffer, string>(
  {
    isApplicable: (value): value is Buffer => Buffer.isBuffer(value),
    serialize: (value) => value.toString('base64'),
    deserialize: (value) => Buffer.from(value, 'base64'),
  },
  'taskmachine:Buffer',
);

/** `value[key]`, or a refusal at `path` when reading it throws (a getter, a Proxy trap). */
function readProperty(value: object, key: string, path: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch (error) {
    throw unstorable(path, `a property whose getter throws (${describeValue(error)})`);
  }
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function forbiddenKeyError(path: string, key: string, reading: boolean): StoreSerializationError {
  return new StoreSerializationError({
    path,
    problem: `the key '${key}' cannot be ${reading ? 'read back' : 'stored'}`,
    message: reading
      ? `Refused to read a stored payload: it contains the key '${key}' at ${path}, which could pollute ` +
        `Object.prototype. The payload was not deserialized and nothing was changed; it was not written by ` +
        `taskmachine (which refuses such keys on write): inspect the store for tampering.`
      : `Cannot store a value with the key '${key}' (at ${path}): '__proto__', 'constructor' and 'prototype' keys are refused ` +
        `because reading them back could pollute Object.prototype. Rename the key. Nothing was written.`,
  });
}

function unstorable(path: string, what: string): StoreSerializationError {
  return new StoreSerializationError({
    path,
    problem: `${what} cannot be stored`,
    message:
      `Cannot store ${what} (at ${path}): stored values may be plain data, arrays, Date, Map, Set, BigInt, ` +
      `RegExp, URL, typed arrays, Buffer, Error and undefined. Return or save data instead. Nothing was written.`,
  });
}

/**
 * Checks a value before it is serialized: no functions, symbols or opaque objects, no forbidden
 * keys. A Proxy is read through its traps like any object (one over plain data stores as that
 * data); a value that throws when read (a getter, a trap) is refused at its path: the check never
 * lets anything else escape.
 */
function checkStorable(value: unknown, path: string, seen: Set<object>): void {
  try {
    checkValue(value, path, seen);
  } catch (error) {
    if (error instanceof StoreSerializationError) throw error;
    throw unstorable(path, `a value that throws when read (${describeValue(error)})`);
  }
}

function checkValue(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'function':
      throw unstorable(path, 'a function');
    case 'symbol':
      throw unstorable(path, `a symbol (${String(value.description ?? '')})`);
    case 'object':
      break;
    default:
      return;
  }
  if (value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Promise) throw unstorable(path, 'a Promise (await it first)');
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    throw unstorable(path, `a ${value.constructor.name}`);
  }
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp || value instanceof URL) return;
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => checkStorable(item, pathOf(path, index), seen));
    return;
  }
  if (value instanceof Map) {
    let index = 0;
    for (const [k, v] of value) {
      checkStorable(k, `${path}.<key ${index}>`, seen);
      checkStorable(v, pathOf(path, typeof k === 'string' ? k : `<value ${index}>`), seen);
      index += 1;
    }
    return;
  }
  if (value instanceof Set) {
    let index = 0;
    for (const v of value) checkStorable(v, `${path}.<item ${index++}>`, seen);
    return;
  }
  if (isErrorValue(value) && 'cause' in value) checkStorable(value.cause, `${path}.cause`, seen);
  for (const key of Object.keys(value)) {
    if (forbiddenKeys.has(key)) throw forbiddenKeyError(pathOf(path, key), key, false);
    checkStorable(readProperty(value, key, pathOf(path, key)), pathOf(path, key), seen);
  }
  if (Object.getOwnPropertySymbols(value).some((s) => Object.getOwnPropertyDescriptor(value, s)?.enumerable)) {
    throw unstorable(path, 'an object with symbol keys');
  }
}

/** Checks parsed JSON for forbidden keys; in superjson's `meta`, also the segments of path strings. */
function checkParsed(value: unknown, path: string, inMeta: boolean): void {
  if (typeof value === 'string') {
    if (inMeta) {
      for (const segment of value.split(/(?<!\\)\./)) {
        if (forbiddenKeys.has(segment)) throw forbiddenKeyError(`${path} (path "${value}")`, segment, true);
      }
    }
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => checkParsed(item, pathOf(path, index), inMeta));
    return;
  }
  for (const key of Object.keys(value)) {
    if (forbiddenKeys.has(key)) throw forbiddenKeyError(pathOf(path, key), key, true);
    if (inMeta) checkParsed(key, pathOf(path, key), true);
    checkParsed((value as Record<string, unknown>)[key], pathOf(path, key), inMeta);
  }
}

/**
 * Serialize a value for the store: superjson text, so Date, Map, Set, BigInt, undefined, NaN,
 * RegExp, URL, typed arrays, Buffer and Error (name, message, stack, cause, own properties such as
 * `code`) survive the round trip. Instances of other classes are stored as `JSON.stringify` would
 * store them (they come back as plain objects). Shared and circular references are kept.
 *
 * Throws {@link StoreSerializationError} (naming the path) for functions, symbols, Promises,
 * Weak collections, symbol keys and the keys `__proto__`, `constructor` and `prototype`.
 *
 * @example
 * ```ts
 * import { serializeValue, deserializeValue } from 'taskmachine/stores';
 * const text = serializeValue({ at: new Date(0), ids: new Set([1n]) });
 * deserializeValue(text); // { at: Date(0), ids: Set { 1n } }
 * ```
 */
export function serializeValue(value: unknown): string {
  const scalar = scalarText(value);
  if (scalar !== undefined) return scalar;
  if (plainJson(value)) {
    try {
      return `{"json":${JSON.stringify(value)}}`;
    } catch {
      // (The general way names what cannot be stored.)
    }
  }
  checkStorable(value, '$', new Set());
  try {
    return JSON.stringify(superjson.serialize(value as never));
  } catch (error) {
    throw new StoreSerializationError({
      path: '$',
      message: `Cannot serialize the value: ${error instanceof Error ? error.message : String(error)}. Nothing was written.`,
      cause: error,
    });
  }
}

/** What superjson writes for `undefined` (the result of most tasks). */
const UNDEFINED_TEXT = JSON.stringify(superjson.serialize(undefined));

/**
 * The text superjson writes for `undefined` and the scalars it leaves as they are (strings, booleans,
 * `null`, finite numbers but -0), made without walking them: a durable run stores one result per
 * attempt, and most are one of these.
 */
function scalarText(value: unknown): string | undefined {
  if (value === undefined) return UNDEFINED_TEXT;
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0))) {
    return `{"json":${JSON.stringify(value)}}`;
  }
  return undefined;
}

/** {@link isPlainJson}, `false` for a value that throws when read (the general way names it). */
function plainJson(value: unknown): boolean {
  try {
    return isPlainJson(value, 0, new Set());
  } catch {
    return false;
  }
}

/** Deeper than this, the plain-data walk gives up (superjson's own walk takes over). */
const PLAIN_DEPTH = 64;

/**
 * Whether `value` is plain data superjson would write as `{"json": <its JSON>}` with no `meta`:
 * objects with `Object.prototype` and own string keys only (none forbidden, no `toJSON`), dense
 * arrays, strings, booleans, `null` and finite numbers but -0, no Proxy, each object reached once
 * (superjson notes shared references). Attempt payloads and most results are such data: they skip the check walk
 * and superjson's, and their text is byte for byte superjson's. Anything else is `false` and goes
 * the general way (which also names what cannot be stored).
 */
function isPlainJson(value: unknown, depth: number, seen: Set<object>): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== 'object' || depth > PLAIN_DEPTH || seen.has(value)) return false;
  // A Proxy's traps may answer the walk and JSON.stringify differently; a `toJSON` (own, even not
  // enumerable, or inherited) makes JSON.stringify write something else than superjson.
  if (nodeTypes.isProxy(value) || 'toJSON' in value) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let index = 0; index < value.length; index++) {
      if (!isPlainJson(value[index], depth + 1, seen)) return false; // (a hole reads as undefined: not plain)
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype || Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || forbiddenKeys.has(key)) return false;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || !('value' in descriptor) || !isPlainJson(descriptor.value, depth + 1, seen)) return false;
  }
  return true;
}

/**
 * Read back a value written by {@link serializeValue}. Refuses (with
 * {@link StoreSerializationError}) payloads with a `__proto__`, `constructor` or `prototype` key anywhere —
 * also inside superjson's path annotations — before building any object, so a tampered store can
 * never pollute `Object.prototype`. Returns a fresh value on every call.
 *
 * @example
 * ```ts
 * import { deserializeValue } from 'taskmachine/stores';
 * deserializeValue('{"json":{"a":1}}'); // { a: 1 }
 * deserializeValue('{"json":{"__proto__":{"polluted":true}}}'); // throws StoreSerializationError
 * ```
 */
export function deserializeValue<T = unknown>(text: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreSerializationError({
      path: '$',
      message: `A stored payload is not valid JSON (${error instanceof Error ? error.message : String(error)}); the store may be damaged.`,
      cause: error,
    });
  }
  return fromTree<T>(parsed, '$');
}

/** Checks a parsed superjson tree (nested ones too: an error's cause and properties) and builds the value. */
function fromTree<T>(parsed: unknown, path: string): T {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('json' in parsed)) {
    throw new StoreSerializationError({
      path,
      message: 'A stored payload is not in the store format (a superjson object with a "json" field); the store may be damaged.',
    });
  }
  const payload = parsed as { json: unknown; meta?: unknown };
  checkParsed(payload.json, path, false);
  if (payload.meta !== undefined) checkParsed(payload.meta, `${path}(meta)`, true);
  try {
    return superjson.deserialize<T>(payload as never, { inPlace: true });
  } catch (error) {
    if (error instanceof StoreSerializationError) throw error;
    throw new StoreSerializationError({
      path,
      message: `A stored payload cannot be read: ${error instanceof Error ? error.message : String(error)}. The store may be damaged or written by another program.`,
      cause: error,
    });
  }
}

/**
 * superjson form of a value as plain JSON (for fingerprints); checked like {@link serializeValue}.
 * @internal
 */
export function toSuperJsonTree(value: unknown): unknown {
  checkStorable(value, '$', new Set());
  return superjson.serialize(value as never);
}
