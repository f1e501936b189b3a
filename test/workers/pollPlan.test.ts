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
    p.readAllNext();
    expect(p.next(inFlight, has, 250).full).toBe(true);
    // Without notifications the driver polls every 20 ms, each one full.
    advance(20);
    expect(p.next(inFlight, has, 20).full).toBe(true);
  });

  it('says when the next full poll is due: a targeted poll does not put it off', () => {
    const { plan: p, advance } = plan();
    expect(p.msUntilFull(250)).toBe(0);
    p.next(inFlight, has, 250);
    expect(p.msUntilFull(250)).toBe(250);
    advance(240);
    p.notified(['a']);
    p.next(inFlight, has, 250);
    expect(p.msUntilFull(250)).toBe(10);
    advance(30);
    expect(p.msUntilFull(250)).toBe(0);
    p.next(inFlight, has, 250);
    p.readAllNext();
    expect(p.msUntilFull(250)).toBe(0);
  });
});

describe('the "outcomes stored" notification', () => {
  const ids = Array.from({ length: 500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

  it('names the run and its launches, as many a payload as fit under the 8,000-byte limit', () => {
    const payloads = storedPayloads([...ids.map((launchId) => ({ runId: 'nightly', launchId })), { runId: 'other', launchId: 'x' }]);
    expect(payloads.map((payload) => readStored(payload).runId)).toEqual(['nightly', 'nightly', 'nightly', 'other']);
    expect(payloads.flatMap((payload) => readStored(payload).launchIds!)).toEqual([...ids, 'x']);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8_000);
    // (Full payloads, not a fixed count: 201 ids of 36 characters beside this run id.)
    expect(readStored(payloads[0]!).launchIds).toHaveLength(201);
  });

  it('a long run id leaves room for fewer ids; one too long for any gets its plain id (its driver reads every launch)', () => {
    const long = `r${'é'.repeat(3_000)}`;
    const payloads = storedPayloads(ids.slice(0, 100).map((launchId) => ({ runId: long, launchId })));
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8_000);
    expect(payloads.flatMap((payload) => readStored(payload).launchIds!)).toEqual(ids.slice(0, 100));
    expect(payloads.length).toBeGreaterThan(1);
    const tooLong = 'r'.repeat(7_870);
    expect(storedPayloads([{ runId: tooLong, launchId: ids[0]! }])).toEqual([tooLong]);
    expect(readStored(tooLong)).toEqual({ runId: tooLong, launchIds: undefined });
  });

  it('a payload that is just a run id (a ctx().call request) names no launches: the poll reads them all', () => {
    expect(readStored('nightly')).toEqual({ runId: 'nightly', launchIds: undefined });
    expect(readStored('{not json')).toEqual({ runId: '{not json', launchIds: undefined });
    expect(readStored('{"run":"r","launches":[1]}')).toEqual({ runId: '{"run":"r","launches":[1]}', launchIds: undefined });
  });
});
