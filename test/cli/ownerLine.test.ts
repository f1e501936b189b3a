// What status says of an orphaned run on workers: that a worker adopts it and when — or, once its
// lease expired well past a worker's look (every 2 s) with no adopter, that none seems to run.
import { describe, expect, it } from 'vitest';
import { ownerLine } from '../../src/cli/commands/status.ts';
import type { OwnerStatus } from '../../src/runtime/opening/ownerStatus.ts';

const now = 1_000_000;
const orphaned = (expiresAt: number): OwnerStatus => ({
  status: 'orphaned',
  why: 'lease expired',
  lease: { runId: 'nightly', owner: { ownerId: 'o', host: 'gone-host', pid: 4242 }, token: 1, acquiredAt: 0, heartbeatAt: expiresAt - 30_000, expiresAt, releasedAt: undefined },
});
const said = (owner: OwnerStatus, onWorkers: boolean) => ownerLine(owner, 'nightly', now, '', onWorkers)!.replace(/\s+/g, ' ');

describe('status: an orphaned run', () => {
  it('on workers, just expired: a worker adopts it within about 2 s', () => {
    expect(said(orphaned(now - 1_000), true)).toContain('a worker with this flow adopts the run within about 2 s, or continue it here with: taskmachine resume nightly');
  });

  it('on workers, expired long ago and not adopted: says that no worker has, and asks whether one runs', () => {
    expect(said(orphaned(now - 60_000), true)).toContain('no worker has adopted the run (is one running with this flow and this store?), or continue it here with:');
  });

  it('a local run: continue it with resume', () => {
    expect(said(orphaned(now - 60_000), false)).toContain('stopped without letting go (its lease expired 60s ago); continue it with: taskmachine resume nightly');
  });
});
