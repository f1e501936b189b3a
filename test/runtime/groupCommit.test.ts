// Group commit: a run commits once per scheduler turn, and turns are bounded, so a long run's
// changes reach the store as it goes (durability, and peak memory), never all at its end.
import { describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { recordingStore } from '../helpers/recordingStore.ts';

describe('group commit over a long run', () => {
  it('a run of many quick tasks commits as it goes (one batch per bounded turn), not in one batch at its end', async () => {
    const { store, batches } = recordingStore();
    // 2,000 synchronous tasks: the scheduler yields after 256 starts per turn, and every turn commits.
    const definition = flow('many', (f) => {
      for (let i = 0; i < 2000; i++) f.task(`t${i}`, () => i);
    });
    const run = await runFlow(definition, { store, runId: 'r', log: () => {} });
    expect(run.state).toBe('success');
    const sizes = batches.map((batch) => batch.results?.length ?? 0);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(512);
  });
});
