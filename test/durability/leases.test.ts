// A run's lease, as RunOwnership holds it: acquired when the run opens (a live lease of another
// owner refuses with RunOwnedError naming it; one of a process of this host that is gone is taken
// over at once, with the next fencing token), renewed by heartbeats (three per time to live, on
// unreferenced platform timers), lost when a renewal finds it taken, and released at the end.
// In process: one memory store, lease times from a test clock, heartbeats on faked intervals.
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { flow, RunOwnedError, runFlow, startFlow } from '../../src/index.ts';
import { RunOwnership } from '../../src/runtime/opening/ownership.ts';
import { LeaseLostError, memoryStore, type LeaseOwner, type Store, type StoredLease } from '../../src/stores/index.ts';

const TTL = 30_000;
/** A pid no process has (above Linux's pid_max). */
const GONE_PID = 2_147_483_646;

function setup(store: Store = memoryStore(), ttlMs = TTL) {
  const clock = createTestClock(100_000);
  const lost: Error[] = [];
  const lines: string[] = [];
  const ownership = new RunOwnership({ store, runId: 'r', ttlMs, clock, onLost: (error) => void lost.push(error), log: (line) => void lines.push(line) });
  return { store, clock, ownership, lost, lines };
}

/** Takes run 'r's lease for an owner other than the RunOwnership under test. */
async function holdAs(store: Store, owner: Partial<LeaseOwner>, now: number, ttlMs = TTL): Promise<StoredLease> {
  const grant = await store.acquireLease({ runId: 'r', owner: { ownerId: 'someone-else', host: 'other-host', pid: 4242, ...owner }, ttlMs, now });
  return grant.lease;
}

/** A store whose renewals are counted (and can be held open). */
function countingStore() {
  const store = memoryStore();
  const renewals: number[] = [];
  const releases: number[] = [];
  const renew = store.renewLease.bind(store);
  const release = store.releaseLease.bind(store);
  let gate: Promise<void> | undefined;
  store.renewLease = async (lease, now, ttlMs) => {
    renewals.push(now);
    if (gate !== undefined) await gate;
    return renew(lease, now, ttlMs);
  };
  store.releaseLease = async (lease, now) => {
    releases.push(now);
    return release(lease, now);
  };
  return { store, renewals, releases, hold: (until: Promise<void>) => void (gate = until) };
}

describe('acquiring the lease', () => {
  it('grants the first lease with token 1, expiring one time to live later; the token is there only while it is held', async () => {
    const { store, clock, ownership } = setup();
    expect(ownership.token).toBeUndefined();
    expect(ownership.fresh(clock.now())).toBe(false);
    const grant = await ownership.acquire();
    expect(grant.tookOverFrom).toBeUndefined();
    expect(grant.lease).toEqual({
      runId: 'r',
      owner: { ownerId: ownership.owner.ownerId, host: hostname(), pid: process.pid },
      token: 1,
      acquiredAt: 100_000,
      heartbeatAt: 100_000,
      expiresAt: 130_000,
      releasedAt: undefined,
    });
    expect(ownership.token).toBe(1);
    expect(await store.getLease('r')).toEqual(grant.lease);
    // Fresh strictly before it expires (by this process's clock).
    expect(ownership.fresh(129_999)).toBe(true);
    expect(ownership.fresh(130_000)).toBe(false);
    await ownership.release();
    expect(ownership.token).toBeUndefined();
    expect(ownership.fresh(clock.now())).toBe(false);
  });

  it("refuses with RunOwnedError naming the live owner of another host (its pid says nothing here), and of this host while that process exists", async () => {
    const { store, clock, ownership } = setup();
    await holdAs(store, { host: 'other-host', pid: GONE_PID }, clock.now());
    const error = await ownership.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunOwnedError);
    expect(error).toMatchObject({ runId: 'r', owner: { host: 'other-host', pid: GONE_PID, ownerId: 'someone-else' } });
    expect((error as Error).message).toContain(`pid ${GONE_PID} on other-host`);
    expect(ownership.token).toBeUndefined();

    const second = setup();
    await holdAs(second.store, { host: hostname(), pid: process.pid }, second.clock.now());
    const here = await second.ownership.acquire().catch((e: unknown) => e);
    expect(here).toBeInstanceOf(RunOwnedError);
    // (Held by this very process — another run handle — which the message says instead of a pid.)
    expect((here as Error).message).toContain("run 'r' is driven by another run handle of this process (owner someone-)");
    expect((here as Error).message).toContain('Wait for that run to finish (its `done`), or shut it down first.');
    expect((await second.store.getLease('r'))!.owner.ownerId).toBe('someone-else');
  });

  it('takes over at once (next token) a live lease whose process on this host is gone', async () => {
    const { store, clock, ownership } = setup();
    const dead = await holdAs(store, { host: hostname(), pid: GONE_PID }, clock.now());
    const grant = await ownership.acquire();
    expect(grant.tookOverFrom).toEqual(dead);
    expect(grant.lease).toMatchObject({ token: 2, owner: { ownerId: ownership.owner.ownerId }, expiresAt: clock.now() + TTL });
    expect(ownership.token).toBe(2);
    expect((await store.getLease('r'))!.token).toBe(2);
  });

  it('takes over an expired lease of another host (next token, tookOverFrom names it)', async () => {
    const { store, clock, ownership } = setup();
    const old = await holdAs(store, {}, clock.now());
    await clock.advance(TTL);
    const grant = await ownership.acquire();
    expect(grant.tookOverFrom).toEqual(old);
    expect(grant.lease.token).toBe(2);
  });

  it('passes on a store failure as it is, even when the holder is a gone process of this host', async () => {
    const store = memoryStore();
    const { clock } = setup(store);
    await holdAs(store, { host: hostname(), pid: GONE_PID }, clock.now());
    const acquire = store.acquireLease.bind(store);
    let calls = 0;
    store.acquireLease = async (request) => {
      if (++calls === 1) throw new Error('database is locked');
      return acquire(request);
    };
    const { ownership } = setup(store);
    await expect(ownership.acquire()).rejects.toThrow('database is locked');
    expect(calls).toBe(1);
    expect((await store.getLease('r'))!.owner.ownerId).toBe('someone-else');
  });

  it('passes on RunOwnedError when the holder cannot be read', async () => {
    const store = memoryStore();
    const { clock } = setup(store);
    await holdAs(store, { host: hostname(), pid: GONE_PID }, clock.now());
    store.getLease = async () => {
      throw new Error('unreachable');
    };
    const { ownership } = setup(store);
    await expect(ownership.acquire()).rejects.toBeInstanceOf(RunOwnedError);
  });
});

describe('renewing the lease', () => {
  it('renewNow moves the heartbeat and expiry to now + ttl and says the lease is held', async () => {
    const { store, clock, ownership } = setup();
    await ownership.acquire();
    await clock.advance(20_000);
    expect(await ownership.renewNow()).toBe(true);
    expect(await store.getLease('r')).toMatchObject({ token: 1, heartbeatAt: 120_000, expiresAt: 150_000 });
    expect(ownership.fresh(149_999)).toBe(true);
    // Again (the first renewal let go of its guard).
    await clock.advance(10_000);
    expect(await ownership.renewNow()).toBe(true);
    expect(await store.getLease('r')).toMatchObject({ heartbeatAt: 130_000, expiresAt: 160_000 });
  });

  it('a renewal while one is under way does not renew twice', async () => {
    const { store, renewals, hold } = countingStore();
    const { clock, ownership } = setup(store);
    await ownership.acquire();
    let open!: () => void;
    hold(new Promise<void>((resolve) => (open = resolve)));
    await clock.advance(1_000);
    const first = ownership.renewNow();
    const second = ownership.renewNow();
    expect(await second).toBe(true);
    open();
    expect(await first).toBe(true);
    expect(renewals).toEqual([101_000]);
  });

  it('a renewal that finds the lease taken over loses it: onLost gets the LeaseLostError, the token is gone', async () => {
    const { store, clock, ownership, lost, lines } = setup();
    await ownership.acquire();
    await clock.advance(TTL);
    await holdAs(store, {}, clock.now());
    expect(ownership.fresh(clock.now())).toBe(false);
    expect(await ownership.renewNow()).toBe(false);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
    expect(lost[0]).toMatchObject({ runId: 'r', token: 1, currentToken: 2 });
    expect(ownership.token).toBeUndefined();
    expect(lines).toEqual([]);
    // Nothing left to renew or release: the new owner's lease stays as it is.
    expect(await ownership.renewNow()).toBe(false);
    await ownership.release();
    expect(await store.getLease('r')).toMatchObject({ token: 2, releasedAt: undefined, owner: { ownerId: 'someone-else' } });
    expect(lost).toHaveLength(1);
  });

  it('a renewal the store fails is logged and tried again later; the lease is kept', async () => {
    const store = memoryStore();
    const renew = store.renewLease.bind(store);
    let fail = true;
    store.renewLease = async (lease, now, ttlMs) => {
      if (fail) throw new Error('connection reset');
      return renew(lease, now, ttlMs);
    };
    const { clock, ownership, lost, lines } = setup(store);
    await ownership.acquire();
    await clock.advance(5_000);
    expect(await ownership.renewNow()).toBe(true);
    expect(lines).toEqual(["taskmachine: renewing the lease of run 'r' failed: connection reset"]);
    expect(lost).toEqual([]);
    expect(ownership.token).toBe(1);
    expect((await store.getLease('r'))!.expiresAt).toBe(130_000);
    fail = false;
    expect(await ownership.renewNow()).toBe(true);
    expect((await store.getLease('r'))!.expiresAt).toBe(135_000);
  });
});

describe('heartbeats', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('renew three times per time to live on an unreferenced interval, one interval however often started', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const { store, renewals } = countingStore();
    const { ownership } = setup(store, 300);
    ownership.startHeartbeat();
    expect(vi.getTimerCount()).toBe(0); // nothing to renew before the lease is taken
    await ownership.acquire();
    ownership.startHeartbeat();
    ownership.startHeartbeat();
    expect(vi.getTimerCount()).toBe(1);
    expect(intervals).toHaveBeenCalledTimes(1);
    const timer = intervals.mock.results[0]!.value as { hasRef(): boolean };
    expect(timer.hasRef()).toBe(false);
    await vi.advanceTimersByTimeAsync(99);
    expect(renewals).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(renewals).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(renewals).toHaveLength(3);
    await ownership.release();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(renewals).toHaveLength(3);
  });

  it('a time to live under 3 ms still beats every millisecond', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { store, renewals } = countingStore();
    const { ownership } = setup(store, 2);
    await ownership.acquire();
    ownership.startHeartbeat();
    await vi.advanceTimersByTimeAsync(3);
    expect(renewals).toHaveLength(3);
    await ownership.release();
  });

  it('a heartbeat that finds the lease lost stops the heartbeats and calls onLost once', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { store, renewals } = countingStore();
    const { clock, ownership, lost } = setup(store, 300);
    await ownership.acquire();
    ownership.startHeartbeat();
    await clock.advance(300);
    await holdAs(store, {}, clock.now(), 300);
    await vi.advanceTimersByTimeAsync(100);
    expect(renewals).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
    expect(vi.getTimerCount()).toBe(0);
    // Taken again (a reopened run): heartbeats start again.
    await clock.advance(300);
    await ownership.acquire();
    ownership.startHeartbeat();
    expect(vi.getTimerCount()).toBe(1);
    await ownership.release();
  });
});

describe('releasing the lease', () => {
  it('marks it released at now (once: a second release does nothing)', async () => {
    const { store, releases } = countingStore();
    const { clock, ownership, lines } = setup(store);
    await ownership.acquire();
    await clock.advance(7_000);
    await ownership.release();
    expect(await store.getLease('r')).toMatchObject({ token: 1, releasedAt: 107_000 });
    await ownership.release();
    expect(releases).toEqual([107_000]);
    expect(lines).toEqual([]);
  });

  it('a release the store fails is logged (the lease expires by itself)', async () => {
    const store = memoryStore();
    store.releaseLease = async () => {
      throw new Error('disk full');
    };
    const { ownership, lines } = setup(store);
    await ownership.acquire();
    await ownership.release();
    expect(lines).toEqual(["taskmachine: releasing the lease of run 'r' failed: disk full (it expires by itself; on this host a resume takes the run over at once)."]);
    expect(ownership.token).toBeUndefined();
  });
});

describe('two runs of one run id in one process', () => {
  /** A flow whose task `work` waits until `release` is called. */
  function blocking() {
    let release!: () => void;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const definition = flow('leased', (f) => {
      const work = f.task('work', async () => {
        started();
        await gate;
        return 'done';
      });
      f.task('after', ({ upstream }) => `${upstream.work as string}!`, { after: [work] });
    });
    return { definition, running, release };
  }

  it('the second is refused with RunOwnedError naming this process while the first drives the run; once it ended and let go, a resume takes the next token', async () => {
    const store = memoryStore();
    const clock = createTestClock(100_000);
    const first = blocking();
    const handle = startFlow(first.definition, { store, runId: 'r', clock, log: () => {} });
    await first.running;
    const refused = await runFlow(first.definition, { store, runId: 'r', resume: true, clock, log: () => {} }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RunOwnedError);
    expect((refused as RunOwnedError).owner).toMatchObject({ host: hostname(), pid: process.pid });
    expect((refused as Error).message).toContain("run 'r' is driven by another run handle of this process");
    first.release();
    expect((await handle.done).state).toBe('success');
    expect(await store.getLease('r')).toMatchObject({ token: 1, releasedAt: clock.now() });
    const again = await runFlow(first.definition, { store, runId: 'r', resume: true, clock, log: () => {} });
    expect(again.state).toBe('success');
    expect(await store.getLease('r')).toMatchObject({ token: 2, releasedAt: clock.now() });
  });

  it('after its lease expired the run is taken over; the first run, stopped meanwhile, can write nothing more (fenced: LeaseLostError) and the second finishes it', async () => {
    const store = memoryStore();
    const clock = createTestClock(100_000);
    const first = blocking();
    const handle = startFlow(first.definition, { store, runId: 'r', clock, log: () => {} });
    await first.running;
    await handle.persisted();
    // The first process is stopped (it sees no time pass, sends no heartbeat); for another
    // process, on its own clock, the lease has expired.
    const later = createTestClock(100_000 + TTL);
    const lines: string[] = [];
    const second = blocking();
    second.release();
    const takeover = startFlow(second.definition, { store, runId: 'r', resume: true, clock: later, log: (line) => void lines.push(line) });
    await takeover.ready();
    expect(lines.some((line) => line.includes(`took over run 'r' from pid ${process.pid}`))).toBe(true);
    expect((await store.getLease('r'))!.token).toBe(2);
    const run = await takeover.done;
    expect(run.tasks['after']!.result).toBe('done!');
    // The first process goes on: its attempt ends, and the store refuses its batch (the lease token
    // it carries is no longer the run's), so nothing of it is stored.
    const before = await store.loadRun('r');
    first.release();
    const error = await handle.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LeaseLostError);
    // (The second run let go of its lease when it ended: no process holds one now.)
    expect(error).toMatchObject({ runId: 'r', token: 1, currentToken: undefined });
    expect(await store.loadRun('r')).toEqual(before);
  });
});
