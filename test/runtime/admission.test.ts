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
