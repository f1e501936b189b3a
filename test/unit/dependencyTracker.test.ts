// DependencyTracker in-process (built as flowRun.ts builds it, see dependencyTrackerHarness.ts):
// trigger-rule counting, when rules are evaluated, map expansion, clearing and restore, and the
// closures manual control walks.
import { describe, expect, it } from 'vitest';
import { FailTask } from '../../src/errors.ts';
import { flow } from '../../src/index.ts';
import { harness } from './dependencyTrackerHarness.ts';

describe('DependencyTracker: counting and evaluating trigger rules', () => {
  it('a setup task counts as setup only for its own downstream tasks', () => {
    // provision (setup) and work have one downstream each; finish only cares about work.
    const h = harness(
      flow('setup-counts', (f) => {
        const provision = f.task('provision', () => 1, { setup: true });
        const work = f.task('work', () => 1);
        f.task('teardown', () => 0, { after: [provision], trigger: 'all_done_setup_success' });
        f.task('finish', () => 0, { after: [work], trigger: 'all_done_setup_success' });
      }),
    );
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['provision', 'work']);
    h.succeed(h.primary('work'), 1);
    h.deps.evaluatePending();
    // No setup upstream: all done is enough.
    expect(h.ready()).toEqual(['finish']);
    h.fail(h.primary('provision'));
    h.deps.evaluatePending();
    expect(h.primary('teardown').state).toBe('upstream_failed');
  });

  it('evaluatePending says whether there were rules to evaluate; pending says whether some wait', () => {
    const h = harness(
      flow('pending', (f) => {
        const a = f.task('a', () => 1);
        f.task('b', () => 2, { after: [a] });
      }),
    );
    expect(h.deps.pending).toBe(true);
    expect(h.deps.evaluatePending()).toBe(true);
    expect(h.deps.pending).toBe(false);
    expect(h.deps.evaluatePending()).toBe(false);
    expect(h.ready()).toEqual(['a']);
    h.succeed(h.primary('a'), 1);
    expect(h.deps.pending).toBe(true);
    expect(h.deps.evaluatePending()).toBe(true);
    expect(h.ready()).toEqual(['b']);
  });

  it('a flow of subtasks only has no rule to evaluate', () => {
    const h = harness(
      flow('subtasks-only', (f) => {
        f.subtask('fetch', () => 1);
      }),
    );
    expect(h.deps.pending).toBe(false);
    expect(h.deps.evaluatePending()).toBe(false);
    expect(h.deps.evaluations).toBe(0);
  });

  it('evaluates a downstream rule only when an upstream finishes, not on every move of it', () => {
    const h = harness(
      flow('evaluations', (f) => {
        const a = f.task('a', () => 1);
        f.task('b', () => 2, { after: [a] });
      }),
    );
    h.deps.evaluatePending();
    expect(h.deps.evaluations).toBe(1);
    const a = h.primary('a');
    for (const event of [{ type: 'SCHEDULE' }, { type: 'QUEUE' }, { type: 'START', attempt: 1 }] as const) {
      h.lifecycle.apply(a, event);
      expect(h.deps.evaluatePending()).toBe(false);
    }
    a.result = 1;
    h.lifecycle.apply(a, { type: 'SUCCEED' });
    expect(h.deps.evaluatePending()).toBe(true);
    expect(h.deps.evaluations).toBe(2);
  });
});

describe('DependencyTracker: a decided rule is not evaluated again (pending stays false)', () => {
  // The scheduler ends a turn's loop and settles only when nothing is pending: a task whose rule has
  // decided (by its rule, by hand, or as restored) must not come back when more upstreams finish.
  const fanIn = flow('fan-in', (f) => {
    const a1 = f.task('a1', () => 1);
    const a2 = f.task('a2', () => 2);
    f.task('b', () => 3, { after: [a1, a2], trigger: 'one_success' });
  });

  it('after its rule decided', () => {
    const h = harness(fanIn);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['a1', 'a2']);
    h.succeed(h.primary('a1'), 1);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['b']);
    h.succeed(h.primary('a2'), 2);
    expect(h.deps.pending).toBe(false);
    expect(h.deps.evaluatePending()).toBe(false);
  });

  it('after it was set by hand', () => {
    const h = harness(fanIn);
    h.deps.evaluatePending();
    const b = h.primary('b');
    h.lifecycle.apply(b, { type: 'SET_STATE', state: 'success' });
    h.deps.decided(b.task);
    h.succeed(h.primary('a1'), 1);
    expect(h.deps.pending).toBe(false);
    expect(h.deps.evaluatePending()).toBe(false);
  });

  it('after a restore found it started', () => {
    const h = harness(fanIn);
    h.primary('a1').state = 'success';
    h.primary('a1').result = 1;
    h.primary('a2').state = 'running';
    h.primary('b').state = 'running';
    h.deps.restored(new Map());
    h.deps.evaluatePending();
    h.primary('a2').result = 2;
    h.lifecycle.apply(h.primary('a2'), { type: 'SUCCEED' });
    expect(h.deps.pending).toBe(false);
  });
});

describe('DependencyTracker: map expansion', () => {
  it('expands a map task into one stored instance per item, deleting its placeholder record', () => {
    const h = harness(
      flow('expand', (f) => {
        const rows = f.task('rows', () => [1, 2]);
        f.map('score', rows, ({ item }) => item);
      }),
    );
    h.deps.evaluatePending();
    h.succeed(h.primary('rows'), ['x', 'y']);
    h.deps.evaluatePending();
    expect(h.removed).toEqual(['score']);
    expect(h.touched).toEqual(['score[0]', 'score[1]']);
    expect(h.ready()).toEqual(['score[0]', 'score[1]']);
    expect(h.table.instancesOf(h.task('score')).map((i) => [i.key, i.mapIndex, i.item])).toEqual([
      ['score[0]', 0, 'x'],
      ['score[1]', 1, 'y'],
    ]);
  });

  it('a map over a task that did not succeed starts (to fail) with no list, saying why', () => {
    const h = harness(
      flow('map-over-failed', (f) => {
        const rows = f.task('rows', () => [1, 2]);
        f.map('score', rows, ({ item }) => item, { trigger: 'all_done' });
      }),
    );
    h.deps.evaluatePending();
    h.fail(h.primary('rows'));
    h.deps.evaluatePending();
    const placeholder = h.primary('score');
    expect(h.ready()).toEqual(['score']);
    expect(h.removed).toEqual([]);
    expect(placeholder.startFailure).toBeInstanceOf(FailTask);
    expect(placeholder.startFailure!.message).toBe("cannot map 'score' over 'rows': it did not succeed, so there is no list to map over");
  });

  it('a map over a mapped task needs every instance of it to succeed, not just some', () => {
    const h = harness(
      flow('map-over-map', (f) => {
        const rows = f.task('rows', () => [1, 2]);
        const score = f.map('score', rows, ({ item }) => item);
        f.map('rescore', score, ({ item }) => item, { trigger: 'all_done' });
      }),
    );
    h.deps.evaluatePending();
    h.succeed(h.primary('rows'), [1, 2]);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['score[0]', 'score[1]']);
    const [s0, s1] = h.table.instancesOf(h.task('score'));
    h.succeed(s0!, 10);
    h.deps.evaluatePending();
    // One of two done: all_done waits.
    expect(h.ready()).toEqual([]);
    h.fail(s1!);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['rescore']);
    expect(h.table.isMapped(h.task('rescore').index)).toBe(false);
    expect(h.primary('rescore').startFailure!.message).toBe("cannot map 'rescore' over 'score': it did not succeed, so there is no list to map over");
  });
});

describe('DependencyTracker: clearing and restoring', () => {
  const mapped = flow('clear', (f) => {
    const rows = f.task('rows', () => [1, 2]);
    const score = f.map('score', rows, ({ item }) => item);
    f.task('report', () => 0, { after: [score] });
    f.subtask('fetch', () => 1);
  });

  it('a cleared mapped instance is ready again on its own; its map task is not expanded anew', () => {
    const h = harness(mapped);
    h.deps.evaluatePending();
    h.succeed(h.primary('rows'), [1, 2]);
    h.deps.evaluatePending();
    h.ready();
    const [s0] = h.table.instancesOf(h.task('score'));
    h.succeed(s0!, 1);
    h.lifecycle.apply(s0!, { type: 'CLEAR' });
    expect(s0!.state).toBe('none');
    h.deps.reconsider(s0!);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['score[0]']);
    expect(h.touched).toEqual(['score[0]', 'score[1]']);
    expect(h.table.instancesOf(h.task('score'))[0]).toBe(s0);
  });

  it('a cleared called (child) instance is ready again', () => {
    const h = harness(mapped);
    const child = h.table.make({ key: 'rows>fetch[0]', task: h.task('fetch'), parentKey: 'rows' });
    h.table.add(child);
    h.deps.reconsider(child);
    expect(h.ready()).toEqual(['rows>fetch[0]']);
  });

  it('a cleared DAG task has its rule decided anew', () => {
    const h = harness(mapped);
    h.deps.evaluatePending();
    const rows = h.primary('rows');
    h.succeed(rows, [1]);
    h.lifecycle.apply(rows, { type: 'CLEAR' });
    h.ready();
    h.deps.reconsider(rows);
    expect(h.deps.pending).toBe(true);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['rows']);
  });

  it('after a restore, an undecided task runs once its restored upstreams are done; restored finished instances count', () => {
    const h = harness(mapped);
    const rows = h.primary('rows');
    rows.state = 'success';
    rows.result = [1, 2];
    const score = h.task('score');
    const instances = [0, 1].map((mapIndex) => h.table.make({ key: `score[${mapIndex}]`, task: score, mapIndex, item: mapIndex + 1 }));
    h.table.setMapped(score.index, instances);
    instances[0]!.state = 'success';
    instances[1]!.state = 'running';
    h.deps.restored(new Map([[score.index, 2]]));
    h.deps.evaluatePending();
    // rows and score decided already: nothing expands again; report waits for score[1].
    expect(h.ready()).toEqual([]);
    expect(h.touched).toEqual([]);
    instances[1]!.result = 2;
    h.lifecycle.apply(instances[1]!, { type: 'SUCCEED' });
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['report']);
  });
});

describe('DependencyTracker: closures', () => {
  const diamond = flow('diamond', (f) => {
    const a = f.task('a', () => 1);
    const b = f.task('b', () => 1, { after: [a] });
    const c = f.task('c', () => 1, { after: [a] });
    f.task('d', () => 1, { after: [b, c] });
  });

  it('closureOf lists each task reachable downstream or upstream once, the task itself excluded', () => {
    const h = harness(diamond);
    const ids = (direction: 'downstream' | 'upstream', id: string) => h.deps.closureOf(h.task(id), direction).map((t) => t.id).sort();
    expect(ids('downstream', 'a')).toEqual(['b', 'c', 'd']);
    expect(ids('upstream', 'd')).toEqual(['a', 'b', 'c']);
    expect(ids('downstream', 'd')).toEqual([]);
  });

  it('downstreamClosure asks about each downstream task once, and goes past only those it follows', () => {
    const h = harness(diamond);
    const asked: string[] = [];
    h.deps.downstreamClosure(h.task('a'), (t) => (asked.push(t.id), true));
    expect(asked.sort()).toEqual(['b', 'c', 'd']);
    const notFollowed: string[] = [];
    h.deps.downstreamClosure(h.task('a'), (t) => (notFollowed.push(t.id), false));
    expect(notFollowed.sort()).toEqual(['b', 'c']);
  });
});
