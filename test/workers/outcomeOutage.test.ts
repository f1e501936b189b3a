// A worker whose outcome commit fails for longer than the store's own retries (PostgreSQL away
// past `reconnectForMs`): it keeps the finished attempt's outcome and tries again until it is
// stored — the attempt does not run again, and the worker logs one line when storing fails and
// one when it works again. (The outage is simulated: the store's transaction for outcomes throws
// the StoreConnectionError the store throws once its retries are spent.)
import { afterEach, describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { StoreConnectionError, type PostgresStore } from '../../src/stores/index.ts';
import { startWorker, type WorkerHandle } from '../../src/workers/index.ts';
import { openStore, postgres, skipReason } from '../helpers/postgresTest.ts';

const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ graceMs: 0 });
});

/** The store, with its next `failures` outcome commits failing as after a long outage. */
function awayForOutcomes(store: PostgresStore, failures: number): PostgresStore {
  let left = failures;
  return new Proxy(store, {
    get(target, property) {
      if (property === 'transaction') {
        return (doing: string, work: Parameters<PostgresStore['transaction']>[1]) => {
          if (doing === 'store attempt outcomes' && left-- > 0) {
            return Promise.reject(new StoreConnectionError({ server: '127.0.0.1:5432/app', outcome: 'not-written', message: 'PostgreSQL at 127.0.0.1:5432/app is unreachable' }));
          }
          return target.transaction(doing, work);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.skipIf(postgres === undefined)(`a worker's outcome through an outage${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('is kept and stored once PostgreSQL is back: the attempt runs once, two log lines', async () => {
    const store = await openStore();
    let bodies = 0;
    const once = flow('once', (f) => {
      f.task('work', () => ++bodies);
    });
    const lines: string[] = [];
    workers.push(await startWorker({ store: awayForOutcomes(store, 2), flows: [once], concurrency: 2, log: (line) => lines.push(line), adopt: false }));
    const run = await runFlow(once, { store, executor: 'workers', runId: 'outage', log: () => {} });
    expect(run.state, lines.join('\n')).toBe('success');
    expect(bodies).toBe(1);
    expect(run.tasks['work']).toMatchObject({ state: 'success', result: 1, attempts: 1 });
    const outage = lines.filter((line) => line.includes('storing attempt outcomes'));
    expect(outage).toHaveLength(2);
    expect(outage[0]).toMatch(/storing attempt outcomes failed \(trying again until it works\): PostgreSQL at 127\.0\.0\.1:5432\/app is unreachable$/);
    expect(outage[1]).toMatch(/storing attempt outcomes works again, after \d+ ms$/);
  }, 60_000);
});
