// The web UI's parts on their own: escaping, attempts read from the transition log, the time axis,
// which actions the machines allow in each state, and the lifecycle chart's highlighting.
import { describe, expect, it } from 'vitest';
import { allTaskInstanceStates, type TaskInstanceState } from '../../machines/index.ts';
import type { StoredTaskInstance, StoredTransition } from '../../src/stores/index.ts';
import { instanceActionsFor, runActionsFor } from '../../src/ui/actions.ts';
import { cutAtWord } from '../../src/ui/format.ts';
import { html, trusted } from '../../src/ui/html.ts';
import { lifecycleSvg } from '../../src/ui/lifecycleChart.ts';
import { attemptsOf, timeAxis } from '../../src/ui/timeline.ts';
import { browserMissing } from './browser.ts';

describe('the browser suite without chromium', () => {
  it('fails under CI and is skipped (with its reason) elsewhere', () => {
    expect(() => browserMissing('/nonexistent/chromium', { CI: 'true' })).toThrow(/CI is set, so the web UI's browser tests must run, but chromium is not installed at \/nonexistent\/chromium/);
    expect(browserMissing('/nonexistent/chromium', {})).toMatch(/apt-get install chromium/);
    expect(browserMissing(process.execPath, { CI: 'true' })).toBeUndefined();
  });
});

describe('html', () => {
  it('escapes every value, joins arrays, drops null/undefined/false, keeps trusted markup', () => {
    const value = `<img src=x onerror="alert('1')">&`;
    expect(String(html`<p title="${value}">${value}${[1, '<b>']}${null}${undefined}${false}${trusted('<i>ok</i>')}</p>`)).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;1&lt;b&gt;<i>ok</i></p>',
    );
  });
});

function log(...steps: Array<[TaskInstanceState, TaskInstanceState, StoredTransition['event'], number]>): StoredTransition[] {
  return steps.map(([from, to, event, at], i) => ({ runId: 'r', key: 'k', seq: i + 1, from, to, event, at }));
}

describe('cutAtWord', () => {
  it('cuts at a word boundary with an ellipsis, within the limit; a single long word where it must', () => {
    expect(cutAtWord('cleared score[1], score[2]', 20)).toBe('cleared score[1],…');
    expect(cutAtWord('short', 20)).toBe('short');
    expect(cutAtWord('x'.repeat(30), 10)).toBe(`${'x'.repeat(9)}…`);
    for (const max of [10, 25, 40]) expect(cutAtWord('the payload is not JSON: {"a": [1, 2, 3], "b": "c"}', max).length).toBeLessThanOrEqual(max);
  });
});

describe('attempts and the time axis', () => {
  const retried = log(
    ['none', 'scheduled', 'SCHEDULE', 0],
    ['scheduled', 'queued', 'QUEUE', 1],
    ['queued', 'running', 'START', 2],
    ['running', 'scheduled', 'INTERRUPT', 5], // interrupted: the same attempt runs again
    ['scheduled', 'queued', 'QUEUE', 6],
    ['queued', 'running', 'START', 7],
    ['running', 'up_for_retry', 'FAIL', 9],
    ['up_for_retry', 'scheduled', 'RETRY', 20],
    ['scheduled', 'queued', 'QUEUE', 21],
    ['queued', 'running', 'START', 22],
    ['running', 'checkpointed', 'CHECKPOINT', 25],
    ['checkpointed', 'scheduled', 'RESUME', 40], // a resume is not a new attempt
    ['scheduled', 'queued', 'QUEUE', 41],
    ['queued', 'running', 'START', 42],
    ['running', 'success', 'SUCCEED', 50],
  );

  it('numbers attempts as the machine counts them: SCHEDULE and RETRY start one, an interruption or a resume does not', () => {
    expect(attemptsOf(retried).map((a) => [a.number, a.startedAt, a.endedAt, a.outcome, a.event])).toEqual([
      [1, 2, 5, 'scheduled', 'INTERRUPT'],
      [1, 7, 9, 'up_for_retry', 'FAIL'],
      [2, 22, 25, 'checkpointed', 'CHECKPOINT'],
      [2, 42, 50, 'success', 'SUCCEED'],
    ]);
  });

  it('an axis ends at the last change when nothing is busy, at now while something runs', () => {
    expect(timeAxis([retried], 1_000)).toEqual({ start: 0, end: 50 });
    expect(timeAxis([retried.slice(0, 3)], 1_000)).toEqual({ start: 0, end: 1_000 });
    expect(timeAxis([retried.slice(0, 11)], 1_000)).toEqual({ start: 0, end: 25 }); // checkpointed: waits for a person
    expect(timeAxis([[]], 1_000)).toBeUndefined();
  });
});

function stored(state: TaskInstanceState, overrides: Partial<StoredTaskInstance> = {}): StoredTaskInstance {
  return {
    runId: 'r', version: 1, key: 'k', taskId: 'k', mapIndex: undefined, parentKey: undefined, callInput: undefined, customContext: undefined,
    state, attempt: state === 'none' ? 0 : 1, maxAttempts: 1, retries: 0, manuallySetFrom: null, deferTimedOut: false, machineVersion: '3',
    createdAt: 0, updatedAt: 0, startedAt: undefined, endedAt: undefined, failureKind: undefined, error: undefined, parked: false,
    awaitsEvent: false, interruptions: 0, maxInterruptions: 3, timer: undefined, resumeData: undefined, eventPayload: undefined, ...overrides,
  };
}

describe('actions asked of the machines', () => {
  const allowed = (instance: StoredTaskInstance) => instanceActionsFor(instance, false).filter((a) => a.allowed).map((a) => a.action);

  it('in every state, the actions the lifecycle contract allows and no other', () => {
    for (const state of allTaskInstanceStates) {
      const expected = [
        ...(state === 'checkpointed' ? ['resume-task'] : []),
        ...(['success', 'failed', 'skipped'] as const).filter((target) => target !== state).map((target) => `set-${target}`),
        ...(state === 'none' ? [] : ['clear', 'clear-downstream']),
      ];
      expect([state, allowed(stored(state))]).toEqual([state, expected]);
    }
  });

  it('send-event only to an instance deferred until an event; the reason otherwise is the machine’s', () => {
    expect(allowed(stored('deferred', { awaitsEvent: true }))).toContain('send-event');
    const untilOnly = instanceActionsFor(stored('deferred', { awaitsEvent: false }), false).find((a) => a.action === 'send-event')!;
    expect(untilOnly.allowed).toBe(false);
    expect(untilOnly.reason).toContain('an event (TRIGGER with byEvent, sendEvent) is accepted only by an instance that deferred with event: true');
  });

  it('read-only disables everything, saying so', () => {
    for (const action of instanceActionsFor(stored('checkpointed'), true)) expect(action).toMatchObject({ allowed: false, reason: 'the UI runs read-only (--read-only)' });
  });

  it('a run can be cancelled while queued or running, not once it has ended', () => {
    const cancel = (state: 'queued' | 'running' | 'success' | 'failed') => runActionsFor({ runId: 'r', state, reason: state === 'failed' ? 'task_failure' : null }, false)[0]!;
    expect(cancel('queued').allowed).toBe(true);
    expect(cancel('running').allowed).toBe(true);
    expect(cancel('success')).toMatchObject({ allowed: false, reason: expect.stringContaining("does not accept CANCEL in state 'success'") });
    expect(cancel('failed').allowed).toBe(false);
  });
});

describe('the lifecycle chart', () => {
  it('outlines the current state and marks the edges taken, told apart by event', async () => {
    const svg = await lifecycleSvg('task-instance', 'failed', [
      { from: 'none', to: 'scheduled', event: 'SCHEDULE' },
      { from: 'scheduled', to: 'queued', event: 'QUEUE' },
      { from: 'queued', to: 'running', event: 'START' },
      { from: 'running', to: 'failed', event: 'FAIL' },
    ]);
    const classesOf = (kind: string) => [...svg.matchAll(new RegExp(`class="${kind}( [^"]*)?" data-title="([^"]+)"[^>]*>\\s*<title>([^<]*)`, 'g'))];
    expect(classesOf('node').filter((m) => m[1]?.includes('tm-current')).map((m) => m[2])).toEqual(['failed']);
    const taken = classesOf('edge').filter((m) => m[1]?.includes('tm-path')).map((m) => m[3]);
    expect(taken).toEqual(['none → scheduled SCHEDULE (taken 1×)', 'scheduled → queued QUEUE (taken 1×)', 'queued → running START (taken 1×)', 'running → failed FAIL (taken 1×)']);
  });

  it('the flow-run chart outlines a running run’s phase', async () => {
    const svg = await lifecycleSvg('flow-run', 'running.active');
    expect(svg).toMatch(/class="node tm-current" data-title="running__active"/);
  });
});
