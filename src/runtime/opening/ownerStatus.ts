import { hostname } from 'node:os';
import { processExists } from '../../processExists.ts';
import type { StoredLease } from '../../stores/index.ts';

/**
 * Who drives a stored run, as `taskmachine status` shows it:
 * - `live`: a process holds an unexpired lease (and, on this host, still exists);
 * - `orphaned`: its last owner stopped without letting go — the lease expired unreleased, or its
 *   process on this host no longer exists; `resume` takes it over;
 * - `released`: the last owner let go (a clean end or shutdown);
 * - `none`: no process ever held a lease on it.
 */
export type OwnerStatus =
  | { readonly status: 'none' }
  | { readonly status: 'released'; readonly lease: StoredLease }
  | { readonly status: 'live'; readonly lease: StoredLease }
  | { readonly status: 'orphaned'; readonly lease: StoredLease; readonly why: 'lease expired' | 'process gone' };

/**
 * The {@link OwnerStatus} of a run whose lease is `lease`, at `now` (epoch ms).
 *
 * @example
 * ```ts
 * const owner = ownerStatus(await store.getLease('nightly'), Date.now());
 * if (owner.status === 'orphaned') console.log(`pid ${owner.lease.owner.pid} is gone`);
 * ```
 */
export function ownerStatus(lease: StoredLease | undefined, now: number, thisHost: string = hostname()): OwnerStatus {
  if (lease === undefined) return { status: 'none' };
  if (lease.releasedAt !== undefined) return { status: 'released', lease };
  if (lease.expiresAt <= now) return { status: 'orphaned', lease, why: 'lease expired' };
  if (lease.owner.host === thisHost && !processExists(lease.owner.pid)) return { status: 'orphaned', lease, why: 'process gone' };
  return { status: 'live', lease };
}
