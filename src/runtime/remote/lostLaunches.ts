import { WORKER_TIMING } from './timing.ts';

/**
 * What a driver prints when a poll gave up launches (the live view shows only that their tasks run
 * again): one line per worker — which worker, how many attempts, and why: a worker that stopped
 * heartbeating crashed (its attempts are counted interruptions), one that handed them back was
 * stopped (a deploy: not counted).
 *
 * @example
 * ```ts
 * lostLaunchLines([{ worker: 'db-7:4242:a1b2c3', handedBack: false }], 'nightly');
 * // ["taskmachine: worker db-7:4242:a1b2c3 stopped heartbeating for 10 s; its 1 attempt of run 'nightly' runs again as interruptions (no retry used)"]
 * ```
 */
export function lostLaunchLines(lost: ReadonlyArray<{ readonly worker: string; readonly handedBack: boolean }>, runId: string): string[] {
  const byWorker = new Map<string, { count: number; handedBack: boolean }>();
  for (const { worker, handedBack } of lost) {
    const seen = byWorker.get(worker) ?? { count: 0, handedBack };
    byWorker.set(worker, { count: seen.count + 1, handedBack: seen.handedBack && handedBack });
  }
  return [...byWorker].map(([worker, { count, handedBack }]) => {
    const [attempts, run, they] = count === 1 ? ['1 attempt', 'runs', 'it runs'] : [`${count} attempts`, 'run', 'they run'];
    return handedBack
      ? `taskmachine: worker ${worker} stopped and handed back ${attempts} of run '${runId}'; ${they} again (no retry used, not counted)`
      : `taskmachine: worker ${worker} stopped heartbeating for ${WORKER_TIMING.lostAfterMs / 1000} s; its ${attempts} of run '${runId}' ${run} again as interruptions (no retry used)`;
  });
}
