// Who drives a stored run, as `taskmachine status` and the UI show it: no lease ever, a lease let
// go, a live one, or an orphaned one (expired unreleased, or its process on this host is gone).
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownerStatus } from '../../src/runtime/opening/ownerStatus.ts';
import type { StoredLease } from '../../src/stores/index.ts';

/** A pid no process has (above Linux's pid_max). */
const GONE_PID = 2_147_483_646;

function lease(overrides: Partial<StoredLease> = {}, owner: Partial<StoredLease['owner']> = {}): StoredLease {
  return {
    runId: 'nightly',
    owner: { ownerId: 'o-1', host: 'other-host', pid: 4242, ...owner },
    token: 3,
    acquiredAt: 1_000,
    heartbeatAt: 5_000,
    expiresAt: 35_000,
    releasedAt: undefined,
    ...overrides,
  };
}

describe('ownerStatus', () => {
  it("'none' when no process ever held a lease on the run", () => {
    expect(ownerStatus(undefined, 10_000)).toEqual({ status: 'none' });
  });

  it("'released' when the last owner let go, even if the lease would still be live or its process is gone", () => {
    const released = lease({ releasedAt: 6_000 });
    expect(ownerStatus(released, 10_000)).toEqual({ status: 'released', lease: released });
    const releasedHere = lease({ releasedAt: 6_000, expiresAt: 1_000 }, { host: 'me', pid: GONE_PID });
    expect(ownerStatus(releasedHere, 10_000, 'me')).toEqual({ status: 'released', lease: releasedHere });
  });

  it("'orphaned' (lease expired) from the moment the lease expires unreleased", () => {
    const held = lease({ expiresAt: 35_000 });
    expect(ownerStatus(held, 34_999)).toEqual({ status: 'live', lease: held });
    expect(ownerStatus(held, 35_000)).toEqual({ status: 'orphaned', lease: held, why: 'lease expired' });
    expect(ownerStatus(held, 90_000)).toEqual({ status: 'orphaned', lease: held, why: 'lease expired' });
  });

  it("'orphaned' (process gone) for an unexpired lease whose process on this host no longer exists", () => {
    const held = lease({}, { host: 'me', pid: GONE_PID });
    expect(ownerStatus(held, 10_000, 'me')).toEqual({ status: 'orphaned', lease: held, why: 'process gone' });
    // On another host the pid says nothing: the lease is live until it expires.
    expect(ownerStatus(held, 10_000, 'somewhere-else')).toEqual({ status: 'live', lease: held });
  });

  it("'live' for an unexpired lease of a process that exists on this host (the default host is this machine's)", () => {
    const mine = lease({}, { host: hostname(), pid: process.pid });
    expect(ownerStatus(mine, 10_000)).toEqual({ status: 'live', lease: mine });
    const goneHere = lease({}, { host: hostname(), pid: GONE_PID });
    expect(ownerStatus(goneHere, 10_000)).toEqual({ status: 'orphaned', lease: goneHere, why: 'process gone' });
  });
});
