// tableWithin (the run list of `status`): aligned columns in at most 80 columns — a last cell that
// does not fit wraps under its own column, or goes below its row when too little room is left.
import { describe, expect, it } from 'vitest';
import { tableWithin } from '../../src/cli/runStatus.ts';

const header = ['RUN', 'FLOW', 'STATE', 'STARTED', 'DURATION', 'TASKS'];

describe('tableWithin', () => {
  it('a table that fits is the plain aligned table', () => {
    expect(tableWithin([header, ['de03f51d', 'fan-out', 'success', '2026-12-03 09:13:22', '1.2s', 'success 14']])).toBe(
      'RUN       FLOW     STATE    STARTED              DURATION  TASKS\n' + 'de03f51d  fan-out  success  2026-12-03 09:13:22  1.2s      success 14',
    );
  });

  it('long counts wrap between items (a state stays with its count) under the TASKS column; no line passes 80 columns', () => {
    const text = tableWithin([header, ['de03f51d', 'etl', 'failed', '2026-12-03 09:13:22', '12.4s', 'success 8, failed 1, upstream_failed 3, skipped 2']]);
    const lines = text.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    const column = lines[0]!.indexOf('TASKS');
    expect(lines[1]!.slice(column)).toMatch(/^success 8, failed 1,/);
    expect(lines[2]).toMatch(new RegExp(`^ {${column}}\\S`));
    expect(lines.slice(1).map((line) => line.slice(column)).join(' ')).toBe('success 8, failed 1, upstream_failed 3, skipped 2');
    for (const line of lines.slice(1)) expect(line.slice(column)).toMatch(/^([a-z_]+ \d+,? ?)+$/);
  });

  it('when fewer than 16 columns are left, the counts go below the row, indented', () => {
    const text = tableWithin([header, ['de03f51d', 'nightly-load', 'failed (cancelled)', '2026-12-03 09:13:22', '1.0s', 'success 8, failed 1']]);
    expect(text).toBe(
      'RUN       FLOW          STATE               STARTED              DURATION  TASKS\n' +
        'de03f51d  nightly-load  failed (cancelled)  2026-12-03 09:13:22  1.0s\n' +
        '    success 8, failed 1',
    );
  });
});
