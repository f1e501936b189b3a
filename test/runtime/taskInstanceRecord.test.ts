import { describe, expect, it } from 'vitest';
import { flow } from '../../src/index.ts';
import { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';

const definition = flow('records', (f) => {
  f.task('plain', () => 1, { retries: 2 });
});
const task = definition.tasks[0]!;

describe('TaskInstance (the compact per-instance record)', () => {
  it('reads the default of every rarely set field until one is written', () => {
    const instance = new TaskInstance({ key: 'plain', task });
    expect(instance.mapIndex).toBeUndefined();
    expect(instance.parentKey).toBeUndefined();
    expect(instance.isChild).toBe(false);
    expect(instance.parked).toBe(false);
    expect(instance.resumeData).toBeUndefined();
    expect(instance.error).toBeUndefined();
    expect(instance.timerInfo).toBeUndefined();
    expect(instance.context).toEqual({ attempt: 0, retries: 2, maxAttempts: 3, manuallySetFrom: null, deferTimedOut: false, awaitsEvent: false, interruptions: 0, maxInterruptions: 3 });
  });

  it('keeps written values per instance, never on the shared defaults', () => {
    const written = new TaskInstance({ key: 'plain', task });
    const other = new TaskInstance({ key: 'plain', task });
    written.resumeData = { step: 1 };
    written.error = new Error('boom');
    written.timerInfo = { deadline: 5, action: 'retry' };
    expect(written.resumeData).toEqual({ step: 1 });
    expect(written.error?.message).toBe('boom');
    expect(written.timerInfo).toEqual({ deadline: 5, action: 'retry' });
    expect(other.resumeData).toBeUndefined();
    expect(other.error).toBeUndefined();
    written.resumeData = undefined;
    expect(written.resumeData).toBeUndefined();
    expect(written.error?.message).toBe('boom');
  });

  it('takes mapIndex, item, parentKey, callInput and customContext from its constructor', () => {
    const mapped = new TaskInstance({ key: 'plain[3]', task, mapIndex: 3, item: { n: 3 } });
    expect(mapped.mapIndex).toBe(3);
    expect(mapped.item).toEqual({ n: 3 });
    const child = new TaskInstance({ key: 'p/plain#1', task, parentKey: 'p', callInput: 7, customContext: { tenant: 'a' } });
    expect(child.isChild).toBe(true);
    expect(child.parentKey).toBe('p');
    expect(child.callInput).toBe(7);
    expect(child.customContext).toEqual({ tenant: 'a' });
  });

  it('shares one immutable initial context among fresh instances with the same retries', () => {
    const a = new TaskInstance({ key: 'plain', task });
    const b = new TaskInstance({ key: 'plain', task });
    expect(a.context).toBe(b.context);
    expect(Object.isFrozen(a.context)).toBe(true);
  });

  it('gives a finished success the same record whichever way it is built', () => {
    const plain = new TaskInstance({ key: 'plain', task });
    plain.state = 'success';
    plain.result = 42;
    plain.startedAt = 1_000;
    plain.endedAt = 1_005;
    const withRareField = new TaskInstance({ key: 'plain', task });
    Object.assign(withRareField, { state: 'success', result: 42, startedAt: 1_000, endedAt: 1_005 });
    withRareField.resumeData = 1; // makes the side object, so toRecord takes its general path
    withRareField.resumeData = undefined;
    const expected = {
      key: 'plain',
      taskId: 'plain',
      mapIndex: undefined,
      parentKey: undefined,
      state: 'success',
      attempts: 0,
      maxAttempts: 3,
      result: 42,
      startedAt: 1_000,
      endedAt: 1_005,
    };
    for (const record of [plain.toRecord(), withRareField.toRecord()]) {
      expect(record).toStrictEqual(expected);
      expect(Object.keys(record)).toEqual(Object.keys(expected));
      expect(Object.isFrozen(record)).toBe(true);
    }
  });

  it('gives back every timestamp exactly as set: epoch ms, small fake-clock values and fractions', () => {
    const instance = new TaskInstance({ key: 'plain', task });
    for (const time of [Date.now(), Date.now() + 86_400_000, 0, 1_000, -5, 1.5, 1_763_800_000_123.25, Number.MAX_SAFE_INTEGER - 1]) {
      instance.startedAt = time;
      instance.endedAt = time;
      expect(instance.startedAt).toBe(time);
      expect(instance.endedAt).toBe(time);
    }
    instance.startedAt = undefined;
    expect(instance.startedAt).toBeUndefined();
  });
});
