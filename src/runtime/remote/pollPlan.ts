// Which launches a driver's poll reads. A worker's "outcomes stored" notification names the
// launches it stored, so a poll it wakes reads those rows only — a few primary-key lookups — instead
// of every launch in flight (the run's concurrency: hundreds of lookups, and the running ones' rows
// sent back, on every outcome). The full poll stays as the backstop for what no notification names.

/** A payload's bound: PostgreSQL refuses one of 8,000 bytes or more (and every payload of its statement with it). */
const PAYLOAD_BYTES = 7_900;

/**
 * The payloads of a worker's "outcomes stored" notification: per run, `{"run": runId, "launches":
 * [ids]}`, as many ids per payload as fit in {@link PAYLOAD_BYTES}; a run whose id is too long for
 * even one gets its plain id (its driver then reads every launch in flight).
 *
 * @example
 * ```ts
 * storedPayloads([{ runId: 'nightly', launchId: 'b4c1…' }]); // ['{"run":"nightly","launches":["b4c1…"]}']
 * ```
 */
export function storedPayloads(stored: ReadonlyArray<{ runId: string; launchId: string }>): string[] {
  const byRun = new Map<string, string[]>();
  for (const { runId, launchId } of stored) {
    const ids = byRun.get(runId);
    if (ids === undefined) byRun.set(runId, [launchId]);
    else ids.push(launchId);
  }
  const payloads: string[] = [];
  for (const [run, ids] of byRun) {
    const head = Buffer.byteLength(JSON.stringify({ run, launches: [] }));
    let chunk: string[] = [];
    let bytes = head;
    for (const id of ids) {
      // (An id takes its JSON text and a comma.)
      const more = Buffer.byteLength(JSON.stringify(id)) + 1;
      if (head + more > PAYLOAD_BYTES) {
        chunk = [];
        payloads.push(run);
        break;
      }
      if (bytes + more > PAYLOAD_BYTES) {
        payloads.push(JSON.stringify({ run, launches: chunk }));
        chunk = [];
        bytes = head;
      }
      chunk.push(id);
      bytes += more;
    }
    if (chunk.length > 0) payloads.push(JSON.stringify({ run, launches: chunk }));
  }
  return payloads;
}

/**
 * What an "outcomes stored" notification says: of which run, and which launches — `undefined` when
 * it does not say (a payload that is just a run id: a worker's `ctx().call` request, which the
 * launch's `calls` count shows, or a worker of an earlier version).
 *
 * @example
 * ```ts
 * readStored('{"run":"nightly","launches":["b4c1…"]}'); // { runId: 'nightly', launchIds: ['b4c1…'] }
 * readStored('nightly'); // { runId: 'nightly', launchIds: undefined }
 * ```
 */
export function readStored(payload: string): { runId: string; launchIds: readonly string[] | undefined } {
  if (payload.startsWith('{')) {
    try {
      const note = JSON.parse(payload) as { run?: unknown; launches?: unknown };
      if (typeof note.run === 'string' && Array.isArray(note.launches) && note.launches.every((id) => typeof id === 'string')) {
        return { runId: note.run, launchIds: note.launches as string[] };
      }
    } catch {
      // (Not a note: a run id that starts with a brace.)
    }
  }
  return { runId: payload, launchIds: undefined };
}

/**
 * Decides what each poll of a driver reads: the launches notifications named since the last poll,
 * or every launch in flight — on the first poll, after a notification that names none, after a
 * failed poll (the names it held may be lost), when the run is opened again, and at least every
 * `fullEveryMs` (notifications can be lost while the LISTEN connection is down; the full poll also
 * shows which launches workers claimed, for the "no worker takes the attempts" notice).
 *
 * @example
 * ```ts
 * const plan = new PollPlan(() => performance.now());
 * plan.notified(['b4c1…']);
 * const { ids, full } = plan.next(inFlight.keys(), (id) => inFlight.has(id), 250); // ['b4c1…'], false
 * ```
 */
export class PollPlan {
  readonly #now: () => number;
  readonly #notified = new Set<string>();
  #fullDue = true;
  #fullAt = Number.NEGATIVE_INFINITY;

  /** @param now a monotonic clock in ms (`performance.now`; a test's). */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** A worker stored outcomes of these launches (`undefined`: it did not say which). */
  notified(launchIds: readonly string[] | undefined): void {
    if (launchIds === undefined) this.#fullDue = true;
    else for (const id of launchIds) this.#notified.add(id);
  }

  /**
   * The launches the poll starting now reads, and whether that is every launch in flight (`full`).
   * The names are used up: a notification that comes during the poll is for the next one.
   */
  next(inFlight: Iterable<string>, isInFlight: (launchId: string) => boolean, fullEveryMs: number): { ids: string[]; full: boolean } {
    const now = this.#now();
    const full = this.#fullDue || now - this.#fullAt >= fullEveryMs;
    let ids: string[];
    if (full) {
      ids = [...inFlight];
      this.#fullDue = false;
      this.#fullAt = now;
    } else {
      ids = [];
      for (const id of this.#notified) if (isInFlight(id)) ids.push(id);
    }
    this.#notified.clear();
    return { ids, full };
  }

  /** The next poll reads every launch in flight (after a failed poll, or when the run is opened again). */
  readAllNext(): void {
    this.#fullDue = true;
  }

  /** How long until a full poll is due (0: now): when to poll next if nothing wakes the driver. */
  msUntilFull(fullEveryMs: number): number {
    return this.#fullDue ? 0 : Math.max(0, this.#fullAt + fullEveryMs - this.#now());
  }
}
