/**
 * One attempt's hold on a worker slot (see {@link Slots}).
 *
 * @example
 * ```ts
 * const slot = slots.take();
 * slot.release(); // the attempt waits for a ctx().call: its slot may run the child
 * slot.takeBack(() => resolveTheCall()); // answered: it continues once it has a slot again
 * slot.end(); // the attempt stopped running
 * ```
 */
export interface Slot {
  /** The attempt waits (for a `ctx().call`'s answer): its slot is free for other attempts meanwhile. */
  release(): void;
  /**
   * The attempt is about to continue: `then` runs once it holds a slot again — at once when one is
   * free, else before any new attempt is fetched.
   */
  takeBack(then: () => void): void;
  /** The attempt stopped running: its slot (if it holds one) is free, for good. */
  end(): void;
}

type SlotState = 'held' | 'released' | 'resuming' | 'ended';

/**
 * A worker's `--concurrency` slots. An attempt holds one while it runs, but not while it waits
 * for a `ctx().call`: the child the call runs may need that slot (on a worker of concurrency 1 it
 * must have it, or parent and child wait for each other forever) — the equivalent of a local child
 * running in its caller's slot. An answered attempt takes a slot back before it continues, ahead
 * of new jobs, so a worker runs at most `concurrency` attempts' code at once.
 *
 * @example
 * ```ts
 * const slots = new Slots(16, () => wakeTheFetchLoop());
 * const jobs = await fetch(slots.free());
 * for (const job of jobs) void run(job, slots.take());
 * ```
 */
export class Slots {
  readonly #concurrency: number;
  readonly #freed: () => void;
  #held = 0;
  /** Slots kept for the jobs a fetch under way may bring (see {@link reserve}). */
  #reserved = 0;
  /** Answered attempts waiting for a slot, first come first served. */
  readonly #resuming: Array<{ slot: { state: SlotState }; then: Array<() => void> }> = [];

  /** @param freed called when a slot frees (the fetch loop may fetch again). */
  constructor(concurrency: number, freed: () => void) {
    this.#concurrency = concurrency;
    this.#freed = freed;
  }

  /**
   * How many new attempts may start now: none while answered attempts wait for a slot (they wait
   * only while every slot is held: each slot that frees goes to them first).
   */
  free(): number {
    return Math.max(0, this.#concurrency - this.#held - this.#reserved);
  }

  /**
   * Keeps `count` slots for a fetch under way: an attempt answered meanwhile does not take one
   * that a fetched job will. The fetch {@link take}s the slots of its jobs, then {@link unreserve}s.
   */
  reserve(count: number): void {
    this.#reserved += count;
  }

  /** The fetch is done: the slots it kept and did not use are free. */
  unreserve(): void {
    if (this.#reserved === 0) return;
    this.#reserved = 0;
    this.#grant();
  }

  /** Slots held now. */
  held(): number {
    return this.#held;
  }

  /** A new attempt's slot (the fetch loop takes at most {@link free} of them). */
  take(): Slot {
    const slot = { state: 'held' as SlotState };
    this.#held++;
    return {
      release: () => {
        if (slot.state !== 'held') return;
        slot.state = 'released';
        this.#held--;
        this.#grant();
      },
      takeBack: (then) => {
        if (slot.state === 'held' || slot.state === 'ended') return then();
        if (slot.state === 'resuming') return void this.#resuming.find((waiting) => waiting.slot === slot)?.then.push(then);
        if (this.#held + this.#reserved < this.#concurrency) {
          slot.state = 'held';
          this.#held++;
          return then();
        }
        slot.state = 'resuming';
        this.#resuming.push({ slot, then: [then] });
      },
      end: () => {
        const was = slot.state;
        slot.state = 'ended';
        if (was === 'resuming') this.#resuming.splice(this.#resuming.findIndex((waiting) => waiting.slot === slot), 1);
        if (was !== 'held') return;
        this.#held--;
        this.#grant();
      },
    };
  }

  /** A slot freed: answered attempts take it first, else the fetch loop may. */
  #grant(): void {
    while (this.#resuming.length > 0 && this.#held + this.#reserved < this.#concurrency) {
      const { slot, then } = this.#resuming.shift()!;
      slot.state = 'held';
      this.#held++;
      for (const go of then) go();
    }
    if (this.#held + this.#reserved < this.#concurrency) this.#freed();
  }
}
