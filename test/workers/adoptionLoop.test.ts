// A worker's look for runs to adopt, every 2 s, while PostgreSQL is away: one log line when the
// lookups start failing and one when they work again — not a line every 2 s (a reviewer counted
// 6–8 identical lines for a 12–16 s restart, and none saying it recovered). Fake timers tick the
// lookups; the store's pool fails its first queries as a stopped server does.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flow } from '../../src/index.ts';
import type { PostgresStore } from '../../src/stores/index.ts';
import { Adoption } from '../../src/workers/adoptionLoop.ts';
import { WORKER_TIMING } from '../../src/runtime/remote/timing.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('adoption lookups through an outage', () => {
  it('log one line when they start failing and one when they work again', async () => {
    vi.useFakeTimers();
    let failures = 4;
    let lookups = 0;
    const pool = {
      query: async () => {
        lookups += 1;
        if (failures-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return { rows: [] };
      },
    };
    const store = { pool, schema: 'taskmachine' } as unknown as PostgresStore;
    const lines: string[] = [];
    const etl = flow('etl', (f) => void f.task('a', () => 1));
    const adoption = new Adoption({ store, workerId: 'w1', flows: new Map([['etl', { flow: etl, hash: 'h' }]]), drivingWith: undefined, log: (line) => lines.push(line) });
    for (let i = 0; i < 6; i++) await vi.advanceTimersByTimeAsync(WORKER_TIMING.adoptEveryMs);
    adoption.stopLooking();
    expect(lookups).toBe(7);
    expect(lines).toEqual([
      'taskmachine worker w1: looking for runs to adopt failed (trying again until it works): connect ECONNREFUSED 127.0.0.1:5432',
      expect.stringMatching(/^taskmachine worker w1: looking for runs to adopt works again, after \d+ ms$/),
    ]);
  });
});
