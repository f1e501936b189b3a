import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { allTaskInstanceStates } from '../../machines/index.ts';
import { liveFrame, type LiveFrameState } from '../../src/cli/progress.ts';

const sgr = /\x1b\[[0-9;]*m/;

const busy: LiveFrameState = {
  flowId: 'nightly-customer-warehouse-refresh',
  // Every state at once, with counts of several digits: the widest the counts line can be.
  states: Object.fromEntries(allTaskInstanceStates.map((state, index) => [state, 1000 + index])),
  elapsedMs: 754_300,
  running: new Map(Array.from({ length: 200 }, (_, index) => [`transform_partition[${index}]`, 1 + (index % 3)])),
  gates: new Map([['warehouse-open', ['load', 'publish']]]),
  failures: ['✗ load_into_the_reporting_database: FailTask: connection refused by reporting-db-7.internal:5432 after 3 attempts'],
};

describe('liveFrame', () => {
  it('fits 80 columns: a short header, the counts wrapped between states, lists cut with … +N', () => {
    const lines = liveFrame(busy, 80, 23, true);
    for (const line of lines.slice(0, -1)) expect(stringWidth(line), line).toBeLessThanOrEqual(80);
    // (The failure line is the region's to cut: it is the only one left wider.)
    expect(lines[0]).toMatch(/^\x1b\[1mnightly-customer-warehouse-refresh\x1b\[0m {2}\[█+░*\] \d+\/\d+ {2}12m34s$/);
    expect(stringWidth(lines[0]!)).toBeLessThanOrEqual(80);
    const counts = lines.slice(1).filter((line) => sgr.test(line)).join(' ');
    for (const state of allTaskInstanceStates) expect(counts).toContain(` ${state} `);
    expect(lines).toContainEqual(expect.stringMatching(/^running: transform_partition\[0\]#1, .* … \+19\d$/));
    expect(lines).toContain('waiting on gate warehouse-open: load, publish');
  });

  it('shows the time as 59.9s under a minute, then whole minutes and seconds, rounded once', () => {
    const header = (elapsedMs: number) => liveFrame({ ...busy, elapsedMs }, 80, 23, false)[0]!.split('  ').at(-1);
    expect([59_940, 60_000, 119_400, 119_600, 754_300].map(header)).toEqual(['59.9s', '1m0s', '1m59s', '2m0s', '12m34s']);
  });

  it('shortens the flow id and the bar before the header would wrap', () => {
    const [narrow] = liveFrame({ ...busy, flowId: 'x'.repeat(100) }, 50, 23, false);
    expect(stringWidth(narrow!)).toBeLessThanOrEqual(50);
    expect(narrow).toMatch(/^x+…  \[[█░]{10}\] \d+\/\d+ {2}12m34s$/);
    const [wide] = liveFrame(busy, 200, 50, false);
    expect(wide).toMatch(/\[[█░]{30}\]/);
  });

  it('a frame taller than the terminal keeps the header and says how many lines it left out', () => {
    const gates = new Map(Array.from({ length: 40 }, (_, index) => [`gate-${index}`, [`task_${index}`]]));
    const lines = liveFrame({ ...busy, gates }, 80, 23, false);
    expect(lines).toHaveLength(23);
    expect(lines[0]).toMatch(/^nightly-customer-warehouse-refresh/);
    expect(lines.at(-1)).toMatch(/^… \d+ more lines: a taller terminal shows them$/);
  });

  it('has no colour or style sequence when colour is off (NO_COLOR)', () => {
    for (const line of liveFrame(busy, 80, 23, false)) expect(line).not.toMatch(sgr);
    expect(liveFrame(busy, 80, 23, true).some((line) => sgr.test(line))).toBe(true);
  });
});
