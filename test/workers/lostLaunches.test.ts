// The driver's line for attempts it gave up, per worker: how many and why (a crash is counted, a
// hand-back is not), in the singular for one.
import { describe, expect, it } from 'vitest';
import { lostLaunchLines } from '../../src/runtime/remote/lostLaunches.ts';

describe('lostLaunchLines', () => {
  it('says per worker how many attempts run again, and whether they count', () => {
    expect(
      lostLaunchLines(
        [
          { worker: 'a:1:x', handedBack: false },
          { worker: 'b:2:y', handedBack: true },
          { worker: 'a:1:x', handedBack: false },
        ],
        'nightly',
      ),
    ).toEqual([
      "taskmachine: worker a:1:x stopped heartbeating for 10 s; its 2 attempts of run 'nightly' run again as interruptions (no retry used)",
      "taskmachine: worker b:2:y stopped and handed back 1 attempt of run 'nightly'; it runs again (no retry used, not counted)",
    ]);
    expect(lostLaunchLines([], 'nightly')).toEqual([]);
  });
});
