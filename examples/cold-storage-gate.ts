// A readiness gate that "restores" files from cold storage before the tasks that need them start.
// Tasks declare what they need in their hints; the gate honours `glacier/skip` and `glacier/maxWait`.
// Run it:  npx taskmachine run examples/cold-storage-gate.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { defineGate, flow, RetryableError } from 'taskmachine';

/** What has been restored so far (a real gate would ask the storage service). */
const restored = new Set<string>();
/** Restores fail on their first try, as cold storage often answers "in progress". */
const tries = new Map<string, number>();

export const coldStorage = defineGate({
  name: 'glacier',
  async prepare(taskInstance, { signal, hints, log }) {
    if (hints['glacier/skip'] === true) return;
    const files = (hints['glacier/files'] as string[] | undefined) ?? [];
    const maxWait = (hints['glacier/maxWait'] as number | undefined) ?? 1_000;
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(maxWait)]);
    for (const file of files) {
      if (restored.has(file)) continue;
      const attempt = (tries.get(file) ?? 0) + 1;
      tries.set(file, attempt);
      log(`restoring ${file} for ${taskInstance.key} (try ${attempt})`);
      await sleep(40, undefined, { signal: deadline }); // the restore request
      // Idempotent by design: a retry (or a resumed run) asks again and finds what is done.
      if (attempt === 1) throw new RetryableError(`${file} is still being restored`);
      restored.add(file);
    }
  },
});

/** `taskmachine run` picks up the gates a flow file exports as `gates`. */
export const gates = [coldStorage];

export default flow('cold-storage', (f) => {
  const listing = f.task('list-archives', () => ['2019.parquet', '2020.parquet'], { hints: { 'glacier/skip': true } });
  const merge = f.task(
    'merge-archives',
    ({ upstream, ctx }) => `merged ${upstream['list-archives'].join(' + ')} on attempt ${ctx.attempt}`,
    {
      after: [listing],
      retries: 2,
      retryDelay: 50,
      hints: { 'glacier/files': ['2019.parquet', '2020.parquet'], 'glacier/maxWait': 2_000 },
    },
  );
  f.task('publish', ({ upstream }) => `published: ${upstream['merge-archives']}`, { after: [merge], hints: { 'glacier/skip': true } });
});
