// What a driver's poll of its launches reads (src/runtime/remote/pollPlan.ts): a poll a worker's
// notification woke reads just the launches it named; every launch in flight is read on the first
// poll, after a notification that names none, after a failed poll and at least every
// `fullEveryMs` (the backstop for notifications lost while the LISTEN connection was down).
// The clock is a test's.
import { describe, expect, it } from 'vitest';
import { PollPlan, readStored, storedPayloads } from '../../src/runtime/remote/pollPlan.ts';

const inFlight = new Set(['a', 'b', 'c', 'd']);
const has = (id: string) => inFlight.has(id);

function plan(): { plan: PollPlan; advance: (ms: number) => void } {
  let now = 1_000;
  return { plan: new PollPlan(() => now), advance: (ms) => (now += ms) };
}

describe('PollPlan', () => {
  it('reads every launch on the first poll, then only the launches notifications named', () => {
    const { plan: p, advance } = plan();
    expect(p.next(inFlight, has, 250)).toEqual({ ids: ['a', 'b', 'c', 'd'], full: true });
    p.notified(['b']);
    p.notified(['d', 'b']);
    advance(10);
    expect(p.next(inFlight, has, 250)).toEqual({ ids: ['b', 'd'], full: false });
    // The names were used up: a poll nobody asked for in between reads nothing.
    advance(10);
    expect(p.next(inFlight, has, 250)).toEqual({ ids: [], full: false });
  });

  it('leaves out named launches no longer in flight (applied already, or of an earlier opening)', () => {
    const { plan: p, advance } = plan();
    p.next(inFlight, has, 250);
    p.notified(['gone', 'c']);
    advance(5);
    expect(p.next(inFlight, has, 250).ids).toEqual(['c']);
  });

  it('reads every launch at least every fullEveryMs, after a notification without names, and after a failed poll', () => {
    const { plan: p, advance } = plan();
    p.next(inFlight, has, 250);
    advance(249);
    p.notified(['a']);
    expect(p.next(inFlight, has, 250).full).toBe(false);
    advance(1);
    expect(p.next(inFlight, has, 250)).toEqual({ ids: ['a', 'b', 'c', 'd'], full: true });
    advance(1);
    p.notified(undefined);
    expect(p.next(inFlight, has, 250).full).toBe(true);
    advance(1);
    p.notified(['a']);
    p.failed();
    expect(p.next(inFlight, has, 250).full).toBe(true);
    // Without notifications the driver polls every 20 ms, each one full.
    advance(20);
    expect(p.next(inFlight, has, 20).full).toBe(true);
  });
});

describe('the "outcomes stored" notification', () => {
  it('names the run and its launches, at most 100 ids a payload (under the 8,000-byte limit)', () => {
    const ids = Array.from({ length: 250 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const payloads = storedPayloads([...ids.map((launchId) => ({ runId: 'nightly', launchId })), { runId: 'other', launchId: 'x' }]);
    expect(payloads.map((payload) => readStored(payload).launchIds!.length)).toEqual([100, 100, 50, 1]);
    expect(payloads.map((payload) => readStored(payload).runId)).toEqual(['nightly', 'nightly', 'nightly', 'other']);
    expect(payloads.flatMap((payload) => readStored(payload).launchIds!).slice(0, 250)).toEqual(ids);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8_000);
  });

  it('a payload that is just a run id (a ctx().call request) names no launches: the poll reads them all', () => {
    expect(readStored('nightly')).toEqual({ runId: 'nightly', launchIds: undefined });
    expect(readStored('{not json')).toEqual({ runId: '{not json', launchIds: undefined });
    expect(readStored('{"run":"r","launches":[1]}')).toEqual({ runId: '{"run":"r","launches":[1]}', launchIds: undefined });
  });
});
