// ControlRequests on its own (the owner's side of `taskmachine set-state/clear/… ` from another
// process): how it polls the store, that each request is applied once even while its answer is not
// committed yet, refusals, a store that fails a read, and timers that never keep the process alive.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlRequests, type ControlRequestsHost } from '../../src/runtime/control/controlRequests.ts';
import type { ControlSettlement, Store, StoredControlRequest } from '../../src/stores/index.ts';

const request = (id: number, taskKey: string): StoredControlRequest => ({
  id,
  runId: 'r',
  action: 'set-state',
  taskKey,
  state: 'success',
  status: 'pending',
  message: undefined,
  settledAt: undefined,
  requestedAt: 0,
});

/** A store whose pending requests stay pending (their answers are not committed in this test). */
function fakeStore(pending: StoredControlRequest[]) {
  const reads: string[] = [];
  let fail: Error | undefined;
  let gate: Promise<void> | undefined;
  const store = {
    pendingControls: async (runId: string) => {
      reads.push(runId);
      if (gate !== undefined) await gate;
      if (fail !== undefined) throw fail;
      return [...pending];
    },
  } as unknown as Store;
  return {
    store,
    reads,
    failWith: (error: Error | undefined) => (fail = error),
    holdReads: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

function fakeHost(refuse: Set<string> = new Set()) {
  const events: string[] = [];
  const settled: ControlSettlement[] = [];
  const lines: string[] = [];
  let now = 100;
  const host: ControlRequestsHost = {
    apply: (req) => {
      events.push(`apply ${req.id}`);
      if (refuse.has(req.taskKey!)) throw new Error(`cannot set '${req.taskKey}'`);
      return `${req.taskKey}: failed → success`;
    },
    settle: (settlement) => {
      events.push(`settle ${settlement.id}`);
      settled.push(settlement);
    },
    inOneBatch: (applyAndSettle) => {
      events.push('batch(');
      applyAndSettle();
      events.push(')');
    },
    now: () => now++,
    log: (line) => lines.push(line),
  };
  return { host, events, settled, lines };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('ControlRequests.poll', () => {
  it('applies each pending request in arrival order, each with its answer in one batch; a refusal is answered with its error', async () => {
    const { store, reads } = fakeStore([request(1, 'load'), request(2, 'nope'), request(3, 'report')]);
    const { host, events, settled } = fakeHost(new Set(['nope']));
    await new ControlRequests(store, 'r', host).poll();
    expect(reads).toEqual(['r']);
    expect(events).toEqual(['batch(', 'apply 1', 'settle 1', ')', 'batch(', 'apply 2', 'settle 2', ')', 'batch(', 'apply 3', 'settle 3', ')']);
    expect(settled).toEqual([
      { id: 1, status: 'applied', message: 'load: failed → success', at: 100 },
      { id: 2, status: 'refused', message: "cannot set 'nope'", at: 101 },
      { id: 3, status: 'applied', message: 'report: failed → success', at: 102 },
    ]);
  });

  it('a request still pending at the next poll (its answer not committed yet) is not applied again; a new one is', async () => {
    const pending = [request(1, 'load')];
    const { store, reads } = fakeStore(pending);
    const { host, settled } = fakeHost();
    const requests = new ControlRequests(store, 'r', host);
    await requests.poll();
    pending.push(request(2, 'report'));
    await requests.poll();
    expect(reads).toHaveLength(2);
    expect(settled.map((s) => s.id)).toEqual([1, 2]);
  });

  it('a poll while another is still reading the store does not read it again', async () => {
    const { store, reads, holdReads } = fakeStore([request(1, 'load')]);
    const { host, settled } = fakeHost();
    const requests = new ControlRequests(store, 'r', host);
    const release = holdReads();
    const first = requests.poll();
    await requests.poll();
    expect(reads).toHaveLength(1);
    release();
    await first;
    expect(settled.map((s) => s.id)).toEqual([1]);
    // Once it is done, the next poll reads again.
    await requests.poll();
    expect(reads).toHaveLength(2);
  });

  it('a failed read is logged with the run and the reason, and the next poll reads again', async () => {
    const { store, reads, failWith } = fakeStore([request(1, 'load')]);
    const { host, settled, lines } = fakeHost();
    const requests = new ControlRequests(store, 'r', host);
    failWith(new Error('database is locked'));
    await requests.poll();
    expect(lines).toEqual(["taskmachine: reading the control requests of run 'r' failed: database is locked"]);
    expect(settled).toEqual([]);
    failWith(undefined);
    await requests.poll();
    expect(reads).toHaveLength(2);
    expect(settled.map((s) => s.id)).toEqual([1]);
  });
});

describe('ControlRequests timers', () => {
  it('polls every interval on a timer that does not keep the process alive; stop() ends the polls, even after start() twice', async () => {
    vi.useFakeTimers();
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    const { store, reads } = fakeStore([]);
    const { host } = fakeHost();
    const requests = new ControlRequests(store, 'r', host, 50);
    requests.start();
    requests.start();
    expect(setIntervalSpy).toHaveBeenCalledTimes(1);
    const timer = setIntervalSpy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    await vi.advanceTimersByTimeAsync(49);
    expect(reads).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(reads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(reads).toHaveLength(3);
    requests.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(reads).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
    // Started again after a stop (a reopened run), it polls again.
    requests.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(reads).toHaveLength(4);
    requests.stop();
    requests.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
