import { describe, expect, it } from 'vitest';
import { FailTask, flow, runFlow, SkipTask, startFlow, type TriggerRule } from '../../src/index.ts';
import { emptyCounts, evaluateTriggerRule, type UpstreamCounts } from '../../src/flow/triggerRules.ts';

type Outcome = 'success' | 'failed' | 'skipped' | 'upstream_failed';
type Expected = 'run' | 'skipped' | 'upstream_failed';
const S: Outcome = 'success';
const F: Outcome = 'failed';
const K: Outcome = 'skipped';
const U: Outcome = 'upstream_failed';

// The reference table (airflow-lifecycle.md §5), evaluated once every upstream has finished.
const finalCases: Array<[TriggerRule, Outcome[], Expected]> = [
  ['all_success', [S, S], 'run'],
  ['all_success', [S, F], 'upstream_failed'],
  ['all_success', [S, U], 'upstream_failed'],
  ['all_success', [S, K], 'skipped'],
  ['all_success', [F, K], 'upstream_failed'],
  ['all_failed', [F, U], 'run'],
  ['all_failed', [F, S], 'skipped'],
  ['all_failed', [F, K], 'skipped'],
  ['all_done', [S, F, K, U], 'run'],
  ['all_done_min_one_success', [S, F], 'run'],
  ['all_done_min_one_success', [F, U], 'upstream_failed'],
  ['all_done_min_one_success', [S, K], 'skipped'],
  ['all_done_setup_success', [S, F], 'run'],
  ['one_success', [F, S], 'run'],
  ['one_success', [F, K], 'upstream_failed'],
  ['one_success', [K, K], 'skipped'],
  ['one_failed', [S, F], 'run'],
  ['one_failed', [S, U], 'run'],
  ['one_failed', [S, K], 'skipped'],
  ['one_done', [K, F], 'run'],
  ['one_done', [K, S], 'run'],
  ['one_done', [K, U], 'skipped'],
  ['none_failed', [S, K], 'run'],
  ['none_failed', [K, K], 'run'],
  ['none_failed', [S, F], 'upstream_failed'],
  ['none_failed', [S, U], 'upstream_failed'],
  ['none_failed_min_one_success', [S, K], 'run'],
  ['none_failed_min_one_success', [K, K], 'skipped'],
  ['none_failed_min_one_success', [K, U], 'upstream_failed'],
  ['none_skipped', [S, F, U], 'run'],
  ['none_skipped', [S, K], 'skipped'],
  ['always', [F, U], 'run'],
  ['always', [K], 'run'],
  ['all_skipped', [K, K], 'run'],
  ['all_skipped', [K, S], 'skipped'],
  ['all_skipped', [K, F], 'skipped'],
];

function counts(outcomes: Outcome[], total = outcomes.length): UpstreamCounts {
  const c = emptyCounts(total);
  for (const o of outcomes) {
    if (o === 'success') c.success++;
    else if (o === 'failed') c.failed++;
    else if (o === 'skipped') c.skipped++;
    else c.upstreamFailed++;
  }
  return c;
}

/** A flow whose upstream tasks end as scripted, with `sink` downstream of all of them. */
function scripted(rule: TriggerRule, outcomes: Outcome[]) {
  return flow(`rule-${rule}`, (f) => {
    const boom = f.task('boom', () => {
      throw new FailTask('boom');
    });
    const ups = outcomes.map((outcome, i) =>
      outcome === 'upstream_failed'
        ? f.task(`u${i}`, () => 'never runs', { after: [boom] })
        : f.task(`u${i}`, () => {
            if (outcome === 'failed') throw new FailTask(`u${i} fails`);
            if (outcome === 'skipped') throw new SkipTask();
            return i;
          }),
    );
    f.task('sink', () => 'ran', { after: ups, trigger: rule });
  });
}

describe('trigger rules (reference table)', () => {
  it.each(finalCases)('%s with upstreams %j → %s', async (rule, outcomes, expected) => {
    expect(evaluateTriggerRule(rule, counts(outcomes))).toBe(expected);
    const run = await runFlow(scripted(rule, outcomes), { log: () => {} });
    outcomes.forEach((outcome, i) => expect(run.tasks[`u${i}`]!.state).toBe(outcome));
    const sink = run.tasks['sink']!;
    expect(sink.state).toBe(expected === 'run' ? 'success' : expected);
    expect(sink.attempts).toBe(expected === 'run' ? 1 : 0);
  });

  it('all 13 rules are covered by the table', () => {
    expect(new Set(finalCases.map(([rule]) => rule)).size).toBe(13);
  });

  describe('early decisions while upstreams are still unfinished', () => {
    const partial: Array<[TriggerRule, Outcome[], number, Expected | 'wait']> = [
      ['all_success', [F], 3, 'upstream_failed'],
      ['all_success', [K], 3, 'skipped'],
      ['all_success', [S], 3, 'wait'],
      ['all_failed', [S], 3, 'skipped'],
      ['all_done', [S, F], 3, 'wait'],
      ['one_success', [S], 3, 'run'],
      ['one_success', [F], 3, 'wait'],
      ['one_failed', [U], 3, 'run'],
      ['one_done', [F], 3, 'run'],
      ['one_done', [K], 3, 'wait'],
      ['none_failed', [F], 3, 'upstream_failed'],
      ['none_skipped', [K], 3, 'skipped'],
      ['all_skipped', [S], 3, 'skipped'],
      ['all_done_min_one_success', [K], 3, 'skipped'],
    ];
    it.each(partial)('%s after %j of %i upstreams → %s', (rule, outcomes, total, expected) => {
      expect(evaluateTriggerRule(rule, counts(outcomes, total))).toBe(expected);
    });
  });

  it('all_done_setup_success needs one setup upstream to succeed', () => {
    const c = counts([F, S]);
    c.setupTotal = 1;
    expect(evaluateTriggerRule('all_done_setup_success', c)).toBe('upstream_failed');
    c.setupSuccess = 1;
    expect(evaluateTriggerRule('all_done_setup_success', c)).toBe('run');
    const skippedSetup = counts([K, S]);
    skippedSetup.setupTotal = 1;
    skippedSetup.setupSkipped = 1;
    expect(evaluateTriggerRule('all_done_setup_success', skippedSetup)).toBe('skipped');
  });

  it('all_done_setup_success end to end with a failing setup task', async () => {
    const run = await runFlow(
      flow('setup', (f) => {
        const provision = f.task('provision', () => {
          throw new FailTask('no quota');
        }, { setup: true });
        const work = f.task('work', () => 1);
        f.task('teardown', () => 'ran', { after: [provision, work], trigger: 'all_done_setup_success' });
      }),
      { log: () => {} },
    );
    expect(run.tasks['teardown']!.state).toBe('upstream_failed');
  });
});

describe('propagation chains', () => {
  it('A fails → B upstream_failed → C upstream_failed; D (all_done) runs; E (one_failed) over successes is skipped', async () => {
    const run = await runFlow(
      flow('chain', (f) => {
        const a = f.task('A', () => {
          throw new FailTask('A broke');
        });
        const b = f.task('B', () => 'b', { after: [a] });
        f.task('C', () => 'c', { after: [b] });
        f.task('D', () => 'd', { after: [a], trigger: 'all_done' });
        const ok1 = f.task('ok1', () => 1);
        const ok2 = f.task('ok2', () => 2);
        f.task('E', () => 'e', { after: [ok1, ok2], trigger: 'one_failed' });
      }),
      { log: () => {} },
    );
    expect(run.tasks['A']!.state).toBe('failed');
    expect(run.tasks['B']!.state).toBe('upstream_failed');
    expect(run.tasks['C']!.state).toBe('upstream_failed');
    expect(run.tasks['D']!.state).toBe('success');
    expect(run.tasks['E']!.state).toBe('skipped');
    // Leaves C (upstream_failed) is a failed state: the run fails.
    expect(run.state).toBe('failed');
    expect(run.reason).toBe('task_failure');
  });

  it('all-skipped upstreams make none_failed_min_one_success skipped, and the skip propagates', async () => {
    const run = await runFlow(
      flow('skips', (f) => {
        const a = f.task('a', () => {
          throw new SkipTask();
        });
        const b = f.task('b', () => {
          throw new SkipTask();
        });
        const join = f.task('join', () => 'ran', { after: [a, b], trigger: 'none_failed_min_one_success' });
        f.task('next', () => 'ran', { after: [join] });
      }),
      { log: () => {} },
    );
    expect(run.tasks['join']!.state).toBe('skipped');
    expect(run.tasks['next']!.state).toBe('skipped');
    expect(run.state).toBe('success');
  });

  it('a run succeeds when its failed task is not a leaf and the leaf tolerates it (Airflow leaf rule)', async () => {
    const run = await runFlow(
      flow('tolerant', (f) => {
        const a = f.task('a', () => {
          throw new FailTask('x');
        });
        f.task('cleanup', () => 'ok', { after: [a], trigger: 'all_done' });
      }),
      { log: () => {} },
    );
    expect(run.state).toBe('success');
  });
});

describe('scheduling work is incremental', () => {
  it('a 20k-task layered DAG evaluates each trigger rule a bounded number of times', async () => {
    const width = 100;
    const layers = 200;
    let ran = 0;
    const big = flow('layered', (f) => {
      const refs: Array<ReturnType<typeof f.task>> = [];
      for (let i = 0; i < width * layers; i++) {
        const layer = Math.floor(i / width);
        const after = layer === 0 ? [] : [refs[i - width]!, refs[(layer - 1) * width + ((i + 1) % width)]!];
        refs.push(f.task(`t${i}`, () => void ran++, { after }));
      }
    });
    const handle = startFlow(big, { log: () => {} });
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(ran).toBe(width * layers);
    const edges = big.tasks.reduce((sum, task) => sum + task.upstream.length, 0);
    const { triggerEvaluations, actorsCreated } = handle.stats();
    // Each finished upstream re-evaluates its undecided downstream tasks once: O(tasks + edges).
    expect(triggerEvaluations).toBeLessThanOrEqual(big.tasks.length + edges);
    expect(actorsCreated).toBe(big.tasks.length);
  });
});
