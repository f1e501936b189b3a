import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the `taskmachine` process sets for itself when it starts.
 *
 * `--no-allocation-site-pretenuring`: V8 sometimes decides, from a burst early in a run, that the
 * objects XState allocates for each actor are long-lived and allocates them in old space from then
 * on; dead, they keep the actors they point to alive until the next full collection. In about one
 * large run in ten the peak memory then nearly doubles (`docs/performance.md`). Without
 * pretenuring the runtime is as fast or faster.
 */
export const RUNNER_V8_FLAGS: readonly string[] = Object.freeze(['--no-allocation-site-pretenuring']);

/**
 * Applies {@link RUNNER_V8_FLAGS} (before anything is allocated, so no decision is taken first)
 * unless `TASKMACHINE_V8_DEFAULTS=1` asks to keep V8's defaults.
 *
 * @returns the flags applied.
 * @example
 * ```ts
 * import { tuneV8ForRuns } from './src/cli/v8Tuning.ts';
 * tuneV8ForRuns(); // ['--no-allocation-site-pretenuring']
 * ```
 */
export function tuneV8ForRuns(
  setFlags: (flags: string) => void = setFlagsFromString,
  env: Readonly<Record<string, string | undefined>> = process.env,
): readonly string[] {
  if (env.TASKMACHINE_V8_DEFAULTS === '1') return [];
  for (const flag of RUNNER_V8_FLAGS) setFlags(flag);
  return RUNNER_V8_FLAGS;
}
