// DrivenRunLogs (the log of a run a worker adopted, in the worker's output): one copy of each
// ctx().log line — the driver's echo of an attempt this worker ran is left out; lines of attempts
// other workers ran get the run id; the driver's other lines pass. Then a worker that adopts a run
// and runs its attempts, end to end: each line once.
import { describe, expect, it, afterEach } from 'vitest';
import { ctx, flow, startFlow } from '../../src/index.ts';
import { DrivenRunLogs } from '../../src/workers/drivenRunLogs.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

describe('DrivenRunLogs', () => {
  it("leaves out the driver's copy of lines of attempts this worker ran, names the run on the others, passes the rest", () => {
    const lines: string[] = [];
    const logs = new DrivenRunLogs();
    logs.ran('nightly', 'score[3]', 1);
    const log = logs.logFor('nightly', (line) => lines.push(line));
    log('[score[3]#1] scored 3');
    log('[score[3]#2] scored 3 again');
    log('[extract#1] 40 rows');
    log("taskmachine: attempt 1 of 'load' waits for a worker");
    expect(lines).toEqual(['[nightly score[3]#2] scored 3 again', '[nightly extract#1] 40 rows', "taskmachine: attempt 1 of 'load' waits for a worker"]);
    // Another run's attempt with the same key is not this one.
    const other: string[] = [];
    logs.logFor('weekly', (line) => other.push(line))('[score[3]#1] scored 3');
    expect(other).toEqual(['[weekly score[3]#1] scored 3']);
  });

  it('forgets the oldest attempts past its bound', () => {
    const lines: string[] = [];
    const logs = new DrivenRunLogs(2);
    logs.ran('r', 'a', 1);
    logs.ran('r', 'b', 1);
    logs.ran('r', 'c', 1);
    const log = logs.logFor('r', (line) => lines.push(line));
    for (const key of ['a', 'b', 'c']) log(`[${key}#1] hi`);
    expect(lines).toEqual(['[r a#1] hi']);
  });
});

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

describe.skipIf(postgres === undefined)(`a worker that drives a run it adopted${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it("prints each ctx().log line of the attempts it runs once, with the run id", async () => {
    const store = await openStore();
    const greet = flow('greet', (f) => {
      f.task('hello', () => {
        ctx()!.log('hello from the worker');
        return 1;
      });
    });
    // The first driver stores the run and lets go of it before any worker runs: a worker adopts it.
    const first = startFlow(greet, { store, executor: 'workers', runId: 'greeting', log: () => {} });
    await first.ready();
    await first.shutdown({ graceMs: 0 });
    const lines: string[] = [];
    workers.push(await startWorker({ store, flows: [greet], concurrency: 1, log: (line) => lines.push(line) }));
    let run = await store.getRun('greeting');
    for (let waited = 0; run?.state !== 'success' && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      run = await store.getRun('greeting');
    }
    expect(run?.state, lines.join('\n')).toBe('success');
    expect(lines.some((line) => line.includes("drives run 'greeting'"))).toBe(true);
    expect(lines.filter((line) => line.includes('hello from the worker'))).toEqual(['[greeting hello#1] hello from the worker']);
  });
});
