import { describe, expect, it } from 'vitest';
import { RUNNER_V8_FLAGS, tuneV8ForRuns } from '../../src/cli/v8Tuning.ts';

describe('tuneV8ForRuns (the taskmachine process’s V8 flags)', () => {
  it('turns off allocation-site pretenuring', () => {
    const set: string[] = [];
    expect(tuneV8ForRuns((flags) => set.push(flags), {})).toEqual(['--no-allocation-site-pretenuring']);
    expect(set).toEqual([...RUNNER_V8_FLAGS]);
  });

  it('keeps V8’s defaults when TASKMACHINE_V8_DEFAULTS=1', () => {
    const set: string[] = [];
    expect(tuneV8ForRuns((flags) => set.push(flags), { TASKMACHINE_V8_DEFAULTS: '1' })).toEqual([]);
    expect(set).toEqual([]);
  });
});
