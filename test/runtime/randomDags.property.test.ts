import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishedStates, type TaskInstanceState } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { emptyCounts, evaluateTriggerRule, triggerRules, type TriggerRule } from '../../src/flow/triggerRules.ts';
import { FailTask, flow, SkipTask, startFlow, type FlowRunRecord } from '../../src/index.ts';

type Outcome = 'ok' | 'fail' | 'skip' | 'failfast';

interface TaskSpec {
  upstream: number[];
  trigger: TriggerRule;
  retries: number;
  outcomes: Outcome[];
}

const dagArb: fc.Arbitrary<TaskSpec[]> = fc
  .integer({ min: 1, max: 9 })
  .chain((size) =>
    fc.tuple(
      ...Array.from({ length: size }, (_, index) =>
        fc.record({
          // Upstreams only among earlier tasks: always a DAG.
          upstream: index === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.integer({ min: 0, max: index - 1 }), { maxLength: 3 }),
          trigger: fc.constantFrom(...triggerRules),
          retries: fc.integer({ min: 0, max: 2 }),
          outcomes: fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'fail', 'skip', 'failfast'), { minLength: 1, maxLength: 3 }),
        }),
      ),
    ),
  );

function countsFrom(states: TaskInstanceState[]) {
  const counts = emptyCounts(states.length);
  for (const state of states) {
    if (state === 'success') counts.success++;
    else if (state === 'skipped') counts.skipped++;
    else if (state === 'failed') counts.failed++;
    else if (state === 'upstream_failed') counts.upstreamFailed++;
    else if (state === 'removed') counts.removed++;
  }
  return counts;
}

describe('random DAGs with random outcomes and interleavings', () => {
  it('respect concurrency, trigger rules and retry budgets, and always finish', async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, fc.integer({ min: 1, max: 3 }), fc.scheduler(), async (specs, concurrency, s) => {
        const clock = createTestClock();
        let running = 0;
        let peak = 0;
        const calls = new Array<number>(specs.length).fill(0);
        const violations: string[] = [];
        let handle!: ReturnType<typeof startFlow>;
        const definition = flow('random', (f) => {
          const refs: Array<ReturnType<typeof f.task>> = [];
          specs.forEach((spec, index) => {
            refs.push(
              f.task(
                `t${index}`,
                async () => {
                  // The trigger rule must allow this start, judged from the upstreams' states now.
                  if (calls[index] === 0) {
                    const snapshot = handle.snapshot();
                    const states = spec.upstream.map((u) => snapshot.tasks[`t${u}`]!.state);
                    if (states.some((state) => !finishedStates.has(state)) && !['one_success', 'one_failed', 'one_done', 'always'].includes(spec.trigger)) {
                      violations.push(`t${index} started while an upstream was unfinished (${spec.trigger})`);
                    }
                    const decision = evaluateTriggerRule(spec.trigger, { ...countsFrom(states), total: states.length });
                    if (decision !== 'run') violations.push(`t${index} started although ${spec.trigger} says ${decision}`);
                  }
                  const outcome = spec.outcomes[Math.min(calls[index]!, spec.outcomes.length - 1)]!;
                  calls[index]!++;
                  running++;
                  peak = Math.max(peak, running);
                  await s.schedule(Promise.resolve(), `t${index} attempt ${calls[index]}`);
                  running--;
                  if (outcome === 'fail') throw new Error('random failure');
                  if (outcome === 'failfast') throw new FailTask('random fail-fast');
                  if (outcome === 'skip') throw new SkipTask();
                  return index;
                },
                { after: spec.upstream.map((u) => refs[u]!), trigger: spec.trigger, retries: spec.retries },
              ),
            );
          });
        });
        let record: FlowRunRecord | undefined;
        handle = startFlow(definition, { clock, concurrency, log: () => {} });
        void handle.done.then((r) => (record = r));
        for (let steps = 0; record === undefined && steps < 10_000; steps++) {
          if (s.count() > 0) await s.waitNext(1);
          else if (clock.pendingTimers > 0) await clock.runAll(1);
          else await clock.flush();
        }
        expect(record, 'the run finished').toBeDefined();
        expect(violations).toEqual([]);
        expect(peak).toBeLessThanOrEqual(concurrency);
        specs.forEach((spec, index) => {
          const task = record!.tasks[`t${index}`]!;
          expect(finishedStates.has(task.state), `t${index} ended ${task.state}`).toBe(true);
          expect(task.attempts).toBeLessThanOrEqual(spec.retries + 1);
          expect(calls[index]).toBe(task.attempts);
        });
      }),
      { numRuns: 150 },
    );
  });
});
