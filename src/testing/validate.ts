// Checks of what pathTests and the graph helpers are given. They run before any traversal, so a
// mistake is reported as the mistake it is (with the fix) instead of as a TypeError deep inside
// XState, a silently ignored option or a traversal that runs until memory runs out.
import type { AnyStateMachine, EventObject } from 'xstate';

/**
 * @internal Throws a TypeError naming `caller` unless `value` is an XState machine.
 *
 * @example
 * ```ts
 * assertMachine('machineEdges', {}); // throws: "machineEdges: expected an XState machine …"
 * ```
 */
export function assertMachine(caller: string, value: unknown): asserts value is AnyStateMachine {
  const machine = value as Partial<AnyStateMachine> | null | undefined;
  if (
    typeof machine === 'object' &&
    machine !== null &&
    typeof machine.getTransitionData === 'function' &&
    typeof machine.root === 'object'
  ) {
    return;
  }
  throw new TypeError(
    `${caller}: expected an XState machine as the first argument, got ${show(value)}. ` +
      'Pass the machine itself (from `createMachine` or `setup(…).createMachine`), not an actor, a snapshot or its config.',
  );
}

/** The options of pathTests that these checks read; the types say more, callers may be JavaScript. */
interface CheckedOptions {
  readonly events?: unknown;
  readonly maxPathLength?: unknown;
  readonly maxPaths?: unknown;
  readonly limit?: unknown;
  readonly serializeState?: unknown;
  readonly filterEvents?: unknown;
  readonly formatEvent?: unknown;
}

/**
 * @internal Throws a TypeError or RangeError naming the option and the fix unless the options of
 * `pathTests(<machineId>)` are usable.
 *
 * @example
 * ```ts
 * assertPathTestOptions('door', { events: [], limit: Number.NaN }); // throws: "… option `limit` …"
 * ```
 */
export function assertPathTestOptions(machineId: string, options: unknown): void {
  const where = `pathTests(${machineId})`;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: expected options as the second argument, got ${show(options)}. Pass at least \`{ events: [...] }\`.`);
  }
  const checked = options as CheckedOptions;
  if (!Array.isArray(checked.events) && typeof checked.events !== 'function') {
    throw new TypeError(
      `${where}: option \`events\` must be an array of events or a function of the snapshot that returns one, ` +
        `got ${show(checked.events)}. Pass the events to try in every state, e.g. \`events: [{ type: 'OPEN' }]\`.`,
    );
  }
  if (Array.isArray(checked.events)) assertEvents(where, checked.events);
  // Whole numbers only: NaN compares false with everything, so `limit: NaN` never stopped a traversal.
  assertCount(where, 'maxPathLength', checked.maxPathLength, 0, 'Infinity, the default');
  assertCount(where, 'maxPaths', checked.maxPaths, 1, '10_000, the default');
  assertCount(where, 'limit', checked.limit, 1, '100_000, the default');
  for (const name of ['serializeState', 'filterEvents', 'formatEvent'] as const) {
    if (checked[name] !== undefined && typeof checked[name] !== 'function') {
      throw new TypeError(`${where}: option \`${name}\` must be a function, got ${show(checked[name])}. Pass a function, or leave it out for the default.`);
    }
  }
}

/**
 * @internal Throws a TypeError unless `events` (the option, or what its function returned) is an
 * array of objects with a string `type`.
 *
 * @example
 * ```ts
 * assertEvents('pathTests(door)', [{ type: 'OPEN' }]); // passes
 * ```
 */
export function assertEvents(where: string, events: unknown): asserts events is readonly EventObject[] {
  if (!Array.isArray(events)) {
    throw new TypeError(
      `${where}: the \`events\` function must return an array of events, got ${show(events)}. Return e.g. \`[{ type: 'OPEN' }]\`.`,
    );
  }
  for (const event of events as unknown[]) {
    if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') {
      throw new TypeError(
        `${where}: every event in \`events\` must be an object with a string \`type\`, got ${show(event)}. ` +
          "Write it as `{ type: 'OPEN' }`.",
      );
    }
  }
}

function assertCount(where: string, name: string, value: unknown, min: number, fallback: string): void {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `${where}: option \`${name}\` must be a whole number of at least ${min} (or Infinity), got ${show(value)}. ` +
        `Pass a number such as \`${name}: ${min === 0 ? 10 : 1000}\`, or leave it out for ${fallback}.`,
    );
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  try {
    const json = JSON.stringify(value);
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return 'an object';
  }
}

/**
 * @internal The event types in `types` that no transition of the machine handles: an event type
 * matches a transition's descriptor exactly, through `*`, or through a prefix wildcard
 * (`'mouse.*'` handles `'mouse.click'`).
 *
 * @example
 * ```ts
 * unmatchedEventTypes(['OPEN', 'CLOSE', 'LOCK'], ['OPEN', 'CLOS']); // ['CLOS']
 * ```
 */
export function unmatchedEventTypes(descriptors: readonly string[], types: Iterable<string>): string[] {
  const exact = new Set(descriptors);
  const prefixes = descriptors.filter((descriptor) => descriptor.endsWith('.*')).map((descriptor) => descriptor.slice(0, -1));
  if (exact.has('*')) return [];
  return [...types].filter((type) => !exact.has(type) && !prefixes.some((prefix) => type.startsWith(prefix)));
}
