import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RunOwnedError, toError } from '../../errors.ts';
import { LeaseLostError, type LeaseGrant, type LeaseOwner, type Store, type StoredLease } from '../../stores/index.ts';
import type { Clock } from '../../clock.ts';
import { processExists } from '../../processExists.ts';

/**
 * This process's ownership of a stored run: it takes the run's lease when the run is opened (a
 * live lease of another process refuses the open with `RunOwnedError`; an expired one is taken
 * over, with a new fencing token), renews it a few times per time to live, carries its token in
 * every write, and releases it when the run ends or lets go. When a renewal finds the lease taken
 * (this process was stopped or cut off for longer than the lease lives), `onLost` stops the run.
 *
 * Heartbeats run on the platform's timers, unreferenced: a run that only waits (for a manual
 * resume or an event) does not keep its process alive, and its lease then expires. Lease times
 * come from the run's clock, so a test clock decides expiry.
 */
export class RunOwnership {
  readonly owner: LeaseOwner = { ownerId: randomUUID(), host: hostname(), pid: process.pid };
  readonly #store: Store;
  readonly #runId: string;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #onLost: (error: Error) => void;
  readonly #log: (line: string) => void;
  #lease: StoredLease | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #renewing = false;

  constructor(options: { store: Store; runId: string; ttlMs: number; clock: Clock; onLost: (error: Error) => void; log: (line: string) => void }) {
    this.#store = options.store;
    this.#runId = options.runId;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#onLost = options.onLost;
    this.#log = options.log;
  }

  /** The fencing token every write carries; `undefined` before the lease is taken or after it is let go. */
  get token(): number | undefined {
    return this.#lease?.token;
  }

  /**
   * Takes the lease. Rejects with `RunOwnedError` when another live process drives the run; a
   * lease held by a process of this host that no longer exists (killed, crashed) is taken over at
   * once instead of after it expires.
   */
  async acquire(): Promise<LeaseGrant> {
    const request = { runId: this.#runId, owner: this.owner, ttlMs: this.#ttlMs, now: this.#clock.now() };
    let grant: LeaseGrant;
    try {
      grant = await this.#store.acquireLease(request);
    } catch (error) {
      const holder = await this.#store.getLease(this.#runId).catch(() => undefined);
      if (!(error instanceof RunOwnedError) || holder === undefined || holder.owner.host !== this.owner.host || processExists(holder.owner.pid)) {
        throw error;
      }
      grant = await this.#store.acquireLease({ ...request, replace: { token: holder.token } });
    }
    this.#lease = grant.lease;
    return grant;
  }

  /**
   * Whether the lease is certainly still this process's at `now` (not expired by its own clock).
   * After a long pause (the process was stopped, the machine slept) it may have expired and been
   * taken over: then nothing new may start until a renewal says it is still held ({@link renewNow}).
   */
  fresh(now: number): boolean {
    return this.#lease !== undefined && this.#lease.expiresAt > now;
  }

  /** Renews at once (after a pause); resolves whether the lease is still held. */
  async renewNow(): Promise<boolean> {
    await this.#renew();
    return this.fresh(this.#clock.now());
  }

  /** Starts the heartbeats: three per time to live. */
  startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#lease === undefined) return;
    this.#heartbeat = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.#ttlMs / 3)));
    this.#heartbeat.unref();
  }

  async #renew(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined || this.#renewing) return;
    this.#renewing = true;
    try {
      this.#lease = await this.#store.renewLease(lease, this.#clock.now(), this.#ttlMs);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.#stop();
        this.#lease = undefined;
        this.#onLost(error);
      } else {
        // A store that cannot be reached now: the next heartbeat tries again, and a commit tells
        // whether the lease is still this process's.
        this.#log(`taskmachine: renewing the lease of run '${this.#runId}' failed: ${toError(error).message}`);
      }
    } finally {
      this.#renewing = false;
    }
  }

  /** Lets go of the lease (no-op when it is not held). */
  /** Lets go of the lease; `stoppedBy` is the store error the run stopped on, if it did. */
  async release(stoppedBy?: Error): Promise<void> {
    this.#stop();
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease === undefined) return;
    try {
      await this.#store.releaseLease(lease, this.#clock.now());
    } catch (error) {
      const message = toError(error).message;
      // (The error the run stopped on was printed already: not its whole text a second time.)
      const why = message === stoppedBy?.message ? ' on the same store error' : `: ${message}`;
      this.#log(`taskmachine: releasing the lease of run '${this.#runId}' failed${why} (it expires by itself; on this host a resume takes the run over at once).`);
    }
  }

  #stop(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
