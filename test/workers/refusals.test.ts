// refusalOf (why a worker cannot run a job) and RefusedGroups (the runs a worker's fetches skip).
import { describe, expect, it } from 'vitest';
import { ATTEMPT_PAYLOAD_FORMAT, attemptGroup, type AttemptJobData } from '../../src/runtime/remote/attemptQueue.ts';
import { RefusedGroups, refusalOf } from '../../src/workers/refusals.ts';

const job = (runId: string, over: Partial<AttemptJobData> = {}): AttemptJobData => ({
  launchId: `${runId}-launch`,
  runId,
  flowId: 'etl',
  flowHash: 'sha256:aaaaaaaaaaaa1111',
  key: 'extract',
  taskId: 'extract',
  attempt: 1,
  payload: '{}',
  format: ATTEMPT_PAYLOAD_FORMAT,
  ...over,
});

describe('refusalOf', () => {
  const loaded = new Map([['etl', 'sha256:aaaaaaaaaaaa1111']]);
  it('runs a job of a loaded flow with the same definition and format', () => {
    expect(refusalOf(job('r'), loaded)).toBeUndefined();
  });
  it('names what differs: the format, the flow, the definition', () => {
    expect(refusalOf(job('r', { format: undefined }), loaded)).toMatch(/^its job is in format 1 \(this worker runs format 2\)/);
    expect(refusalOf(job('r', { flowId: 'report' }), loaded)).toBe("it has no flow 'report' loaded (it loaded: etl)");
    expect(refusalOf(job('r', { flowHash: 'sha256:bbbbbbbbbbbb2222' }), loaded)).toMatch(/^its flow 'etl' has definition sha256:aaaaaaaaaaaa, the run's is sha256:bbbbbbbbbbbb: /);
  });
});

describe('RefusedGroups', () => {
  it('skips nothing until a run is refused, then that run (one group per run)', () => {
    const refused = new RefusedGroups(8);
    expect(refused.fetchOptions()).toEqual({});
    expect(refused.add(job('a'))).toEqual({ group: attemptGroup(job('a')), full: false });
    refused.add(job('a', { key: 'load', launchId: 'other' }));
    expect(refused.fetchOptions()).toEqual({ ignoreGroups: [attemptGroup(job('a'))] });
    expect(attemptGroup(job('a'))).not.toBe(attemptGroup(job('b')));
  });
  it('keeps the newest `max` runs: the oldest refused is forgotten, one refused again counts as new', () => {
    const refused = new RefusedGroups(2);
    refused.add(job('a'));
    refused.add(job('b'));
    expect(refused.add(job('a')).full).toBe(false);
    expect(refused.add(job('c')).full).toBe(true);
    expect(refused.fetchOptions().ignoreGroups).toEqual([attemptGroup(job('a')), attemptGroup(job('c'))]);
  });
});
