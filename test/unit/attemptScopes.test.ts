// AttemptScopes on its own (the run listeners' `aroundAttempt`): what a scope sees when it calls
// run() (the task's value, or its throw), that the task runs once whatever the scope does, and
// which throws are the scope's own (logged) and which are the task's (the attempt's failure).
import { describe, expect, it } from 'vitest';
import { AttemptScopes } from '../../src/runtime/attempt/attemptScopes.ts';
import type { AttemptScope } from '../../src/listeners/runListeners.ts';

const run = { instance: { toRecord: () => ({ key: 't' }) }, attempt: 1 } as never;

/** (Scopes that return nothing or throw: what a listener may do, not what the type asks.) */
function scopes(list: Array<(args: unknown, run: () => unknown) => unknown>) {
  const lines: string[] = [];
  return { lines, scopes: new AttemptScopes(list as unknown as AttemptScope[], (line) => lines.push(line.split('\n')[0]!)) };
}

describe('AttemptScopes.run', () => {
  it('a scope calling run() twice runs the task once and gets its value both times', () => {
    const got: unknown[] = [];
    const { lines, scopes: s } = scopes([(_args, inner) => {
      got.push(inner(), inner());
    }]);
    let calls = 0;
    expect(s.run(run, () => ++calls)).toBe(1);
    expect(calls).toBe(1);
    expect(got).toEqual([1, 1]);
    expect(lines).toEqual([]);
  });

  it('run() throws the task’s error to the scope, every time; only a success returns', () => {
    const seen: unknown[] = [];
    const { lines, scopes: s } = scopes([(_args, inner) => {
      for (let i = 0; i < 2; i++) {
        try {
          seen.push(['returned', inner()]);
        } catch (error) {
          seen.push(['threw', error]);
        }
      }
    }]);
    const failure = new Error('task failed');
    let calls = 0;
    expect(() => s.run(run, () => {
      calls++;
      throw failure;
    })).toThrow(failure);
    expect(calls).toBe(1);
    expect(seen).toEqual([['threw', failure], ['threw', failure]]);
    seen.length = 0;
    expect(s.run(run, () => 'ok')).toBe('ok');
    expect(seen).toEqual([['returned', 'ok'], ['returned', 'ok']]);
    expect(lines).toEqual([]);
  });

  it('the task’s throw passing through a scope (or two) is not the scope’s error: nothing is logged', () => {
    const failure = new Error('task failed');
    const { lines, scopes: s } = scopes([(_args, inner) => inner(), (_args, inner) => inner()]);
    expect(() => s.run(run, () => {
      throw failure;
    })).toThrow(failure);
    expect(lines).toEqual([]);
  });

  it('a scope that throws its own error is logged, after a task success or a task failure; the outcome stays the task’s', () => {
    const failure = new Error('task failed');
    const { lines, scopes: s } = scopes([(_args, inner) => {
      try {
        inner();
      } catch {
        // (Replaced by the scope's own error below.)
      }
      throw new Error('scope broke');
    }]);
    expect(s.run(run, () => 'ok')).toBe('ok');
    expect(() => s.run(run, () => {
      throw failure;
    })).toThrow(failure);
    expect(lines).toEqual([
      "error calling listener for hook 'aroundAttempt': Error: scope broke",
      "error calling listener for hook 'aroundAttempt': Error: scope broke",
    ]);
  });

  it('a scope that throws before calling run() is logged once, and the task still runs once', () => {
    const { lines, scopes: s } = scopes([() => {
      throw new Error('early');
    }]);
    let calls = 0;
    expect(s.run(run, () => ++calls)).toBe(1);
    expect(calls).toBe(1);
    expect(lines).toEqual(["error calling listener for hook 'aroundAttempt': Error: early"]);
  });

  it('a scope that throws undefined after the task returned is logged too', () => {
    const { lines, scopes: s } = scopes([(_args, inner) => {
      inner();
      throw undefined;
    }]);
    expect(s.run(run, () => 'ok')).toBe('ok');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error calling listener for hook 'aroundAttempt': /);
  });
});
