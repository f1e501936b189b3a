import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/runtime/scheduling/admission.ts';
import type { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';

// A stand-in with the fields Admission reads (queue membership, state, child or not).
function queued(key: string, suspect = false) {
  return { key, state: 'queued', isChild: false, queuedAs: undefined, suspect } as unknown as TaskInstance & { suspect: boolean };
}

function startAll(admission: Admission): string[] {
  const started: string[] = [];
  for (let instance = admission.takeForSlot(); instance !== undefined; instance = admission.takeForSlot()) {
    admission.attemptStarted(instance);
    started.push(instance.key);
  }
  return started;
}

describe('Admission', () => {
  it('starts up to concurrency instances in queue order and skips stale entries', () => {
    const admission = new Admission(2);
    const [a, b, c] = [queued('a'), queued('b'), queued('c')];
    for (const instance of [a, b, c]) admission.enqueueForSlot(instance);
    b.queuedAs = undefined; // moved on by a manual change
    expect(startAll(admission)).toEqual(['a', 'c']);
  });

  it('runs an instance marked runsAlone only when nothing else runs, and nothing beside it', () => {
    const admission = new Admission(4);
    admission.runsAlone = (instance) => (instance as ReturnType<typeof queued>).suspect;
    const [a, suspect, b, c] = [queued('a'), queued('suspect', true), queued('b'), queued('c')];
    for (const instance of [a, suspect, b, c]) admission.enqueueForSlot(instance);
    // `a` starts; the suspect waits for it, and nothing overtakes the suspect.
    expect(startAll(admission)).toEqual(['a']);
    admission.attemptEnded(a);
    expect(startAll(admission)).toEqual(['suspect']);
    admission.attemptEnded(suspect);
    expect(startAll(admission)).toEqual(['b', 'c']);
  });
});

function ready(key: string) {
  return { key, state: 'none', isChild: false, queuedAs: undefined } as unknown as TaskInstance;
}

describe('Admission queues and window', () => {
  it('schedules ready instances while fewer than max(32, 2 × concurrency) wait for a slot', () => {
    for (const [concurrency, window] of [
      [1, 32],
      [16, 32],
      [20, 40],
    ] as const) {
      const admission = new Admission(concurrency);
      expect(admission.windowSize).toBe(window);
      for (let i = 0; i < window + 5; i++) admission.enqueueReady(ready(`r${i}`));
      let scheduled = 0;
      for (let instance = admission.takeReady(); instance !== undefined; instance = admission.takeReady()) {
        expect(instance.queuedAs).toBeUndefined();
        (instance as { state: string }).state = 'queued';
        admission.enqueueForSlot(instance);
        scheduled++;
      }
      // The window is full: the rest waits until slots take some.
      expect(scheduled).toBe(window);
      expect(admission.empty).toBe(false);
    }
  });

  it('skips ready entries that moved on (no longer queued as ready, or no longer in state none)', () => {
    const admission = new Admission(4);
    const [a, b, c] = [ready('a'), ready('b'), ready('c')];
    for (const instance of [a, b, c]) admission.enqueueReady(instance);
    a.queuedAs = undefined;
    (b as { state: string }).state = 'skipped';
    expect(admission.takeReady()).toBe(c);
    expect(admission.takeReady()).toBeUndefined();
  });

  it('skips slot entries whose instance is no longer queued', () => {
    const admission = new Admission(4);
    const [a, b] = [queued('a'), queued('b')];
    admission.enqueueForSlot(a);
    admission.enqueueForSlot(b);
    (a as { state: string }).state = 'failed';
    expect(startAll(admission)).toEqual(['b']);
  });

  it('counts running children apart from DAG attempts: children take no slot, but are in flight', () => {
    const admission = new Admission(1);
    const child = { ...queued('child'), isChild: true } as unknown as TaskInstance;
    admission.attemptStarted(child);
    expect(admission.running).toBe(0);
    expect(admission.childrenRunning).toBe(1);
    expect(admission.inFlight).toBe(1);
    // The one slot is still free for a DAG task.
    const a = queued('a');
    admission.enqueueForSlot(a);
    expect(startAll(admission)).toEqual(['a']);
    expect(admission.inFlight).toBe(2);
    admission.attemptEnded(child);
    expect(admission.childrenRunning).toBe(0);
    expect(admission.running).toBe(1);
    expect(admission.inFlight).toBe(1);
    admission.attemptEnded(a);
    expect(admission.inFlight).toBe(0);
  });

  it('hasWaitingForSlot and empty tell whether any queue holds an entry', () => {
    const admission = new Admission(1);
    expect(admission.hasWaitingForSlot).toBe(false);
    expect(admission.empty).toBe(true);
    const r = ready('r');
    admission.enqueueReady(r);
    expect(admission.empty).toBe(false);
    expect(admission.hasWaitingForSlot).toBe(false);
    admission.takeReady();
    expect(admission.empty).toBe(true);
    const q = queued('q');
    admission.enqueueForSlot(q);
    expect(admission.hasWaitingForSlot).toBe(true);
    expect(admission.empty).toBe(false);
    startAll(admission);
    expect(admission.hasWaitingForSlot).toBe(false);
    expect(admission.empty).toBe(true);
    admission.toQueue.push(q);
    expect(admission.empty).toBe(false);
  });

  it('an instance that ran alone frees the others only when it ends, not when another ends', () => {
    const admission = new Admission(4);
    admission.runsAlone = (instance) => instance.key === 'alone';
    const child = { ...queued('child'), isChild: true } as unknown as TaskInstance;
    const [alone, next] = [queued('alone'), queued('next')];
    admission.enqueueForSlot(alone);
    admission.enqueueForSlot(next);
    expect(startAll(admission)).toEqual(['alone']);
    // A child it called starts and ends: `alone` still runs alone.
    admission.attemptStarted(child);
    admission.attemptEnded(child);
    expect(startAll(admission)).toEqual([]);
    admission.attemptEnded(alone);
    expect(startAll(admission)).toEqual(['next']);
  });
});
