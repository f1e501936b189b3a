// The driver's "no worker has taken an attempt" notice (src/runtime/remote/unclaimedNotice.ts): once
// per stretch of waiting, and again after workers took attempts — also when only a poll that read
// the launches a notification named saw them taken (`sawTaken`), since full polls may never see a
// launch that was claimed and finished between two of them. Clock and table are the test's.
import { describe, expect, it } from 'vitest';
import type { LaunchState, LaunchTable } from '../../src/runtime/remote/launchTable.ts';
import { WORKER_TIMING } from '../../src/runtime/remote/timing.ts';
import { UnclaimedNotice, type WaitingLaunch } from '../../src/runtime/remote/unclaimedNotice.ts';

const table = { workersBusy: async () => false } as unknown as LaunchTable;
const waiting = (id: string, launchedAt: number): WaitingLaunch => ({ id, run: { instance: { key: id } }, launchedAt });
const state = (launchId: string, status: LaunchState['status']): LaunchState => ({ launchId, key: launchId, attempt: 1, status, outcome: null, worker: null, refusal: null, calls: 0 });

describe('UnclaimedNotice', () => {
  it('logs once per stretch of waiting, and again after a poll of named launches saw one taken', async () => {
    const lines: string[] = [];
    const notice = new UnclaimedNotice({ table, db: {} as never, runId: 'r', flowId: 'f', log: (line) => lines.push(line) });
    const wait = WORKER_TIMING.unclaimedNoticeMs;
    let now = 0;
    await notice.check([], [waiting('a', 0)], () => [], (now += wait));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no worker has taken an attempt of run 'r' for 10 s \(1 waiting: 'a'\)/);
    await notice.check([], [waiting('a', 0)], () => [], (now += 2 * WORKER_TIMING.heartbeatMs));
    expect(lines).toHaveLength(1);
    // A worker came, took 'a' and finished it between two full polls: only a targeted poll saw it.
    expect(notice.sawTaken([state('a', 'done')])).toBe(true);
    expect(notice.sawTaken([state('b', 'queued')])).toBe(false);
    // It went away again; 'b' waits: a second notice.
    now += wait;
    await notice.check([], [waiting('b', now - wait)], () => [], now);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/\(1 waiting: 'b'\)/);
  });
});
