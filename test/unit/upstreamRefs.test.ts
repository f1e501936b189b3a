// DependencyTracker.upstreamRefs in-process: what an attempt job for a worker carries instead of
// the upstream values (which result records, by key and attempt, a worker reads), checked against
// upstreamValues, which it mirrors. (The PostgreSQL worker suites reach it too, but not in-process.)
import { describe, expect, it } from 'vitest';
import { flow } from '../../src/index.ts';
import { harness } from './dependencyTrackerHarness.ts';

describe('DependencyTracker.upstreamRefs', () => {
  const etl = flow('refs-etl', (f) => {
    const extract = f.task('extract', () => 1, { retries: 2 });
    const config = f.task('config', () => ({ factor: 2 }));
    f.task('load', () => 0, { after: [extract, config], trigger: 'all_done' });
    f.task('solo', () => 0);
  });

  it('a task without upstreams has no refs; a task has one ref per upstream, in upstream order', () => {
    const h = harness(etl);
    expect(h.refs('solo')).toEqual([]);
    expect(h.refs('extract')).toEqual([]);
    // Nothing finished yet: no record to read, each upstream hands on undefined.
    expect(h.refs('load')).toEqual([{ id: 'extract' }, { id: 'config' }]);
    expect(h.deps.upstreamValues(h.task('load'))).toEqual({ extract: undefined, config: undefined });
  });

  it('names the result record (key, attempt) of a succeeded upstream: the attempt that wrote it', () => {
    const h = harness(etl);
    h.deps.evaluatePending();
    h.succeed(h.primary('extract'), 'rows', 2);
    h.succeed(h.primary('config'), { factor: 2 });
    expect(h.refs('load')).toEqual([
      { id: 'extract', key: 'extract', attempt: 2 },
      { id: 'config', key: 'config', attempt: 1 },
    ]);
    // A restored success whose record is older than its attempt count: the record's attempt.
    h.primary('extract').resultAttempt = 1;
    expect(h.refs('load')[0]).toEqual({ id: 'extract', key: 'extract', attempt: 1 });
  });

  it('refers to no record (undefined) for a failed upstream, and for a success without a result', () => {
    const h = harness(etl);
    h.deps.evaluatePending();
    h.fail(h.primary('extract'));
    h.succeed(h.primary('config'), undefined);
    expect(h.primary('extract').state).toBe('failed');
    expect(h.refs('load')).toEqual([{ id: 'extract' }, { id: 'config' }]);
    // A success set to failed by hand keeps its result object but hands nothing on (successResult).
    const config = h.primary('config');
    config.result = { factor: 2 };
    expect(h.refs('load')[1]).toEqual({ id: 'config', key: 'config', attempt: 1 });
    h.lifecycle.apply(config, { type: 'SET_STATE', state: 'failed' });
    expect(config.result).toEqual({ factor: 2 });
    expect(h.refs('load')[1]).toEqual({ id: 'config' });
  });

  it('a task that left the definition (index -1) has no refs', () => {
    const h = harness(etl);
    expect(h.deps.upstreamRefs({ ...h.task('load'), index: -1 })).toEqual([]);
  });

  const mapped = flow('refs-mapped', (f) => {
    const rows = f.task('rows', () => [1, 2, 3]);
    const score = f.map('score', rows, ({ item }) => item, { retries: 2 });
    f.task('report', () => 0, { after: [score], trigger: 'all_done' });
  });

  it('a mapped instance refers to its list task; a downstream of the map to the list of its instances’ records', () => {
    const h = harness(mapped);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['rows']);
    // The map task before it expanded: an empty list (resultOf gives []).
    expect(h.refs('report')).toEqual([{ id: 'score', count: 0, attempts: 0 }]);
    h.succeed(h.primary('rows'), ['a', 'b', 'c'], 1);
    h.deps.evaluatePending();
    expect(h.ready()).toEqual(['score[0]', 'score[1]', 'score[2]']);
    expect(h.refs('score')).toEqual([{ id: 'rows', key: 'rows', attempt: 1 }]);
    const [s0, s1, s2] = h.table.instancesOf(h.task('score'));
    // Nothing finished: count 3, every element attempt 0 (undefined).
    expect(h.refs('report')).toEqual([{ id: 'score', count: 3, attempts: 0 }]);
    h.succeed(s0!, 'A');
    h.succeed(s1!, 'B');
    h.succeed(s2!, 'C');
    // Every element from attempt 1: one number for all.
    expect(h.refs('report')).toEqual([{ id: 'score', count: 3, attempts: 1 }]);
    // Elements from different attempts: one attempt per element, in map order.
    s1!.resultAttempt = 3;
    expect(h.refs('report')).toEqual([{ id: 'score', count: 3, attempts: [1, 3, 1] }]);
    s0!.resultAttempt = 2;
    expect(h.refs('report')).toEqual([{ id: 'score', count: 3, attempts: [2, 3, 1] }]);
    expect(h.deps.upstreamValues(h.task('report'))).toEqual({ score: ['A', 'B', 'C'] });
  });

  it('a mapped element that did not succeed is attempt 0 (undefined), as upstreamValues gives it', () => {
    const h = harness(mapped);
    h.deps.evaluatePending();
    h.succeed(h.primary('rows'), [1, 2], 1);
    h.deps.evaluatePending();
    const [s0, s1] = h.table.instancesOf(h.task('score'));
    h.fail(s0!);
    h.succeed(s1!, 'B', 2);
    expect(h.refs('report')).toEqual([{ id: 'score', count: 2, attempts: [0, 2] }]);
    expect(h.deps.upstreamValues(h.task('report'))).toEqual({ score: [undefined, 'B'] });
  });

  it('gives the keys of mapped instances only when they are not `${id}[${i}]` (instances restored under other keys)', () => {
    const h = harness(mapped);
    const score = h.task('score');
    const instances = ['x', 'y'].map((key, mapIndex) => h.table.make({ key, task: score, mapIndex, item: mapIndex }));
    h.table.setMapped(score.index, instances);
    expect(h.refs('report')).toEqual([{ id: 'score', count: 2, attempts: 0, keys: ['x', 'y'] }]);
    // Only the second off: still every key, in map order.
    const mixed = harness(mapped);
    const second = mixed.task('score');
    mixed.table.setMapped(second.index, ['score[0]', 'other'].map((key, mapIndex) => mixed.table.make({ key, task: second, mapIndex, item: mapIndex })));
    expect(mixed.refs('report')).toEqual([{ id: 'score', count: 2, attempts: 0, keys: ['score[0]', 'other'] }]);
    // In order but starting at 1: off too.
    const shifted = harness(mapped);
    const third = shifted.task('score');
    shifted.table.setMapped(third.index, ['score[1]', 'score[2]'].map((key, mapIndex) => shifted.table.make({ key, task: third, mapIndex, item: mapIndex })));
    expect(shifted.refs('report')).toEqual([{ id: 'score', count: 2, attempts: 0, keys: ['score[1]', 'score[2]'] }]);
  });
});
