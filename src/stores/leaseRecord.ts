/**
 * Who drives a run: a process, named so a person can find it.
 *
 * @example
 * ```ts
 * import type { LeaseOwner } from 'taskmachine/stores';
 * const me: LeaseOwner = { ownerId: crypto.randomUUID(), host: os.hostname(), pid: process.pid };
 * ```
 */
export interface LeaseOwner {
  /** A random id per run handle: two handles in one process are two owners. */
  readonly ownerId: string;
  /** The machine's host name. */
  readonly host: string;
  /** The process id on that host. */
  readonly pid: number;
}

/**
 * The lease on a run: which process drives it and until when. A live lease (not released, not
 * expired) keeps every other process from driving the run; its owner renews it (heartbeats) well
 * inside its time to live. The fencing `token` grows by one on every acquisition — a takeover of an
 * expired lease included — and every commit of the owner carries it, so a process that lost its
 * lease (stopped, partitioned, too slow to renew) can write nothing.
 *
 * @example
 * ```ts
 * const lease = await store.getLease('nightly');
 * const orphaned = lease !== undefined && lease.releasedAt === undefined && lease.expiresAt <= Date.now();
 * ```
 */
export interface StoredLease {
  /** The run. */
  readonly runId: string;
  /** Who holds (or last held) it. */
  readonly owner: LeaseOwner;
  /** Fencing token: 1 for the first owner, +1 for every later acquisition. */
  readonly token: number;
  /** When this owner acquired it (epoch ms). */
  readonly acquiredAt: number;
  /** The owner's last heartbeat (epoch ms). */
  readonly heartbeatAt: number;
  /** When it expires unless renewed (epoch ms). */
  readonly expiresAt: number;
  /** When its owner let go of it (a clean end or shutdown), or `undefined` while held. */
  readonly releasedAt: number | undefined;
}

/**
 * A request for a run's lease.
 *
 * @example
 * ```ts
 * const { lease } = await store.acquireLease({ runId: 'nightly', owner: me, ttlMs: 30_000, now: Date.now() });
 * ```
 */
export interface LeaseRequest {
  readonly runId: string;
  readonly owner: LeaseOwner;
  /** How long the lease lives without a heartbeat (ms). */
  readonly ttlMs: number;
  /** The requester's clock (epoch ms): expiry is decided against it. */
  readonly now: number;
  /**
   * Take the lease over from its holder even though it is live, because the caller knows the
   * holder is gone (a process on the same host that no longer exists): granted only while the
   * run's lease still has exactly this token.
   * @default undefined
   */
  readonly replace?: { readonly token: number };
}

/**
 * What `acquireLease` grants: the lease, and the one it replaced when it took over an expired
 * lease of another owner (`undefined` for a first acquisition, a released lease or the same owner).
 *
 * @example
 * ```ts
 * const { lease, tookOverFrom } = await store.acquireLease(request);
 * if (tookOverFrom) console.log(`took over from pid ${tookOverFrom.owner.pid}`);
 * ```
 */
export interface LeaseGrant {
  readonly lease: StoredLease;
  readonly tookOverFrom: StoredLease | undefined;
}

/**
 * Whether a lease keeps other owners out at `now`: held (not released) and not expired.
 *
 * @example
 * ```ts
 * import { isLeaseLive } from 'taskmachine/stores';
 * if (isLeaseLive(await store.getLease(runId), Date.now())) console.log('owned');
 * ```
 */
export function isLeaseLive(lease: StoredLease | undefined, now: number): boolean {
  return lease !== undefined && lease.releasedAt === undefined && lease.expiresAt > now;
}
