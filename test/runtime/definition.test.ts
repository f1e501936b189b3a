import { describe, expect, it, vi } from 'vitest';
import { flow, FlowDefinitionError, type TaskRef } from '../../src/index.ts';

function problemsOf(build: () => unknown): string[] {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(FlowDefinitionError);
    return (error as FlowDefinitionError).problems.map((p) => (p.taskId ? `${p.taskId}: ${p.message}` : p.message));
  }
  throw new Error('expected a FlowDefinitionError');
}

describe('flow definition validation', () => {
  it('reports every problem in one pass and runs nothing', () => {
    const fn = vi.fn();
    const problems = problemsOf(() =>
      flow('bad', (f) => {
        f.task('a', fn, { after: ['c'] });
        f.task('b', fn, { after: ['a'], retries: -1 });
        f.task('c', fn, { after: ['b'], timeout: 0 });
        f.task('a', fn);
        f.task('d', fn, { after: ['ghost'], trigger: 'sometimes' as never });
        f.task('e', 42 as never);
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'a: duplicate task id: every task in a flow needs its own id',
        'b: retries must be a whole number ≥ 0, got -1',
        'c: timeout must be a positive number of ms, got 0',
        "d: upstream 'ghost' is not a task of this flow (unknown task id)",
        expect.stringMatching(/^d: unknown trigger rule "sometimes"; use one of: all_success, /),
        'e: the task function must be a function, got 42',
        'cycle: a → b → c → a (a task cannot depend on itself, even indirectly)',
      ]),
    );
    expect(problems).toHaveLength(7);
    expect(fn).not.toHaveBeenCalled();
  });

  it('names the tasks of a cycle in dependency order', () => {
    const problems = problemsOf(() =>
      flow('loop', (f) => {
        f.task('extract', () => 1, { after: ['load'] });
        f.task('transform', () => 1, { after: ['extract'] });
        f.task('load', () => 1, { after: ['transform'] });
      }),
    );
    expect(problems).toEqual(['cycle: extract → transform → load → extract (a task cannot depend on itself, even indirectly)']);
  });

  it('rejects unknown options, references from another flow and hints without a namespace', () => {
    const other = flow('other', (f) => {
      f.task('x', () => 1);
    });
    let foreign: unknown;
    flow('source', (f) => {
      foreign = f.task('x', () => 1);
    });
    expect(other.tasks).toHaveLength(1);
    const problems = problemsOf(() =>
      flow('mixed', (f) => {
        f.task('a', () => 1, { retry: 3 } as never);
        f.task('b', () => 1, { after: [foreign as never] });
        f.task('c', () => 1, { hints: { maxWait: 5 } });
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^a: unknown option 'retry'; known options: after, trigger, retries/),
      "b: upstream 'x' belongs to flow 'source', not to this flow",
      "c: hint 'maxWait' has no namespace: write it as '<namespace>/<name>', e.g. 'glacier/maxWait'",
    ]);
  });

  it('the error message lists the problems for people', () => {
    expect(() => flow('m', (f) => void f.task('a', () => 1, { retries: 1.5 }))).toThrow(
      "flow 'm' has 1 definition problem:\n  - task 'a': retries must be a whole number ≥ 0, got 1.5",
    );
  });

  it('a valid flow exposes its tasks with defaults applied', () => {
    const etl = flow('etl', (f) => {
      const a = f.task('a', () => 1);
      f.task('b', () => 2, { after: a, retries: 2, retryDelay: 10 });
    });
    const b = etl.task('b')!;
    expect(b).toMatchObject({ trigger: 'all_success', retries: 2, retryDelay: 10, retryBackoff: 1, upstream: [0] });
    expect(etl.task('a')!.downstream).toEqual([1]);
    expect(Object.isFrozen(etl.tasks)).toBe(true);
  });

  it('tasks with the same options share their settings; each still reads its own', () => {
    const etl = flow('shared-settings', (f) => {
      const a = f.task('a', () => 1);
      const b = f.task('b', () => 2, { after: a, retries: 3, retryBackoff: 2, timeout: 50 });
      f.task('c', () => 3, { after: b, trigger: 'all_done', hints: { 'k8s/cpu': 2 } });
      f.task('d', () => 4, { after: a });
    });
    expect(etl.task('a')).toMatchObject({ retries: 0, retryDelay: 0, retryBackoff: 1, maxRetryDelay: Infinity, timeout: undefined, trigger: 'all_success', hints: {} });
    expect(etl.task('b')).toMatchObject({ retries: 3, retryBackoff: 2, timeout: 50, upstream: [0], downstream: [2] });
    expect(etl.task('c')).toMatchObject({ trigger: 'all_done', hints: { 'k8s/cpu': 2 }, upstream: [1] });
    expect(etl.task('d')).toMatchObject({ retries: 0, upstream: [0], downstream: [] });
    expect(etl.task('nope')).toBeUndefined();
    // Every field of a definition is readable and serializable.
    expect(JSON.parse(JSON.stringify(etl.task('b')))).toEqual({
      id: 'b',
      index: 1,
      kind: 'task',
      trigger: 'all_success',
      retries: 3,
      retryDelay: 0,
      retryBackoff: 2,
      maxRetryDelay: null,
      timeout: 50,
      hints: {},
      setup: false,
      decorators: [],
      upstream: [0],
      downstream: [2],
      mapOver: -1,
    });
    for (const task of etl.tasks) expect(Object.isFrozen(task)).toBe(true);
  });

  it('a task reference is the task’s frozen definition (id, kind and flowId first)', () => {
    let ref: unknown;
    let frozenWhileBuilding = false;
    const refs = flow('refs', (f) => {
      ref = f.task('a', () => 1, { retries: 1 });
      frozenWhileBuilding = Object.isFrozen(ref);
    });
    expect(frozenWhileBuilding).toBe(true);
    expect(Object.keys(ref as object).slice(0, 3)).toEqual(['id', 'kind', 'flowId']);
    expect(ref).toMatchObject({ id: 'a', kind: 'task', flowId: 'refs', retries: 1 });
    expect(refs.task('a')).toBe(ref);
  });

  it('resolves ids of tasks defined later, in order and without repeats', () => {
    const later = flow('later', (f) => {
      f.map('score', 'rows', ({ item }) => item, { after: ['config', 'rows', 'config'] });
      f.task('rows', () => [1, 2]);
      f.task('config', () => ({}), { after: 'rows' });
    });
    expect(later.task('score')).toMatchObject({ mapOver: 1, upstream: [1, 2] });
    expect(later.task('rows')!.downstream).toEqual([0, 2]);
    expect(later.task('config')!.downstream).toEqual([0]);
  });

  it('reports problems with ids of tasks defined later as it does for earlier ones', () => {
    const problems = problemsOf(() =>
      flow('later-bad', (f) => {
        f.task('a', () => 1, { after: ['ghost', 'helper'] });
        f.map('m', 'nowhere', ({ item }) => item);
        f.subtask('helper', () => 1);
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        "a: upstream 'ghost' is not a task of this flow (unknown task id)",
        "a: upstream 'helper' is a subtask: it runs only when called with ctx().call(), so nothing can run after it",
        "m: the list to map over 'nowhere' is not a task of this flow (unknown task id)",
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it("an unknown upstream close to a task's id is answered with that id", () => {
    const problems = problemsOf(() =>
      flow('typo', (f) => {
        f.task('extract', () => 1);
        f.task('load', () => 2, { after: ['extrct'] });
      }),
    );
    expect(problems).toEqual(["load: upstream 'extrct' is not a task of this flow (unknown task id); did you mean 'extract'?"]);
  });

  it('cycle detection handles a 100k-task chain without overflowing the stack', () => {
    const chain = flow('chain', (f) => {
      let previous: TaskRef<number> = f.task('t0', () => 0);
      for (let i = 1; i < 100_000; i++) previous = f.task(`t${i}`, () => i, { after: previous });
    });
    expect(chain.tasks).toHaveLength(100_000);
  });
});
