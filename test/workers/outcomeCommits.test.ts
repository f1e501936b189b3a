// A worker's group commit of outcomes: one alone commits at once; those that end while a commit is
// in flight go together in the next; a launch the worker no longer held resolves false; a failed
// commit rejects every outcome it carried, and the next ones still commit.
import { describe, expect, it } from 'vitest';
import { OutcomeCommits, type OutcomeWrite } from '../../src/workers/outcomeCommits.ts';

describe('OutcomeCommits', () => {
  it('batches what ends during a commit, and reports which launches were stored', async () => {
    const batches: string[][] = [];
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    const commits = new OutcomeCommits<number>(async (writes: readonly OutcomeWrite<number>[]) => {
      batches.push(writes.map((w) => w.launchId));
      await gate;
      return new Set(writes.map((w) => w.launchId).filter((id) => id !== 'c'));
    });
    const first = commits.add({ launchId: 'a', job: 1, outcome: '{}' });
    const rest = [commits.add({ launchId: 'b', job: 2, outcome: '{}' }), commits.add({ launchId: 'c', job: 3, outcome: '{}' })];
    expect(batches).toEqual([['a']]);
    release();
    expect(await first).toBe(true);
    gate = Promise.resolve();
    expect(await Promise.all(rest)).toEqual([true, false]);
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('a failed commit rejects its outcomes; later ones commit', async () => {
    let fail = true;
    const commits = new OutcomeCommits<number>(async (writes) => {
      if (fail) throw new Error('connection lost');
      return new Set(writes.map((w) => w.launchId));
    });
    await expect(commits.add({ launchId: 'a', job: 1, outcome: '{}' })).rejects.toThrow('connection lost');
    fail = false;
    expect(await commits.add({ launchId: 'b', job: 2, outcome: '{}' })).toBe(true);
  });
});
