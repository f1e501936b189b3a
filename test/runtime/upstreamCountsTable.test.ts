import { describe, expect, it } from 'vitest';
import { countUpstreamOutcome, evaluateTriggerRule } from '../../src/flow/triggerRules.ts';
import { UpstreamCountsTable } from '../../src/runtime/scheduling/upstreamCountsTable.ts';

describe('UpstreamCountsTable', () => {
  it('has no counters for a task without upstreams', () => {
    const table = new UpstreamCountsTable(3);
    table.add(1, 2);
    expect(table.at(0)).toBeUndefined();
    expect(table.at(2)).toBeUndefined();
    expect(table.at(1)).toMatchObject({ total: 2, success: 0, failed: 0, setupTotal: 0 });
  });

  it('keeps every task’s counters apart and feeds the trigger rules like a counts object', () => {
    const table = new UpstreamCountsTable(2);
    table.add(0, 2);
    table.add(1, 2);
    countUpstreamOutcome(table.at(0)!, 'success', false, 1);
    countUpstreamOutcome(table.at(1)!, 'failed', false, 1);
    countUpstreamOutcome(table.at(0)!, 'success', true, 1);
    expect(evaluateTriggerRule('all_success', table.at(0)!)).toBe('run');
    expect(evaluateTriggerRule('all_success', table.at(1)!)).toBe('upstream_failed');
    expect({ ...pick(table, 0) }).toEqual({ total: 2, success: 2, setupSuccess: 1, failed: 0 });
    expect({ ...pick(table, 1) }).toEqual({ total: 2, success: 0, setupSuccess: 0, failed: 1 });
    countUpstreamOutcome(table.at(1)!, 'failed', false, -1);
    expect(evaluateTriggerRule('all_success', table.at(1)!)).toBe('wait');
  });
});

function pick(table: UpstreamCountsTable, index: number) {
  const row = table.at(index)!;
  return { total: row.total, success: row.success, setupSuccess: row.setupSuccess, failed: row.failed };
}
