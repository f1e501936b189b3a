import type { TaskInstanceState } from '../../machines/index.ts';

/**
 * Airflow's thirteen trigger rules: when a task may run, given how its upstream task instances
 * ended. `all_success` is the default.
 *
 * @example
 * ```ts
 * f.task('report', summarize, { after: [a, b], trigger: 'all_done' });
 * ```
 */
export type TriggerRule =
  | 'all_success'
  | 'all_failed'
  | 'all_done'
  | 'all_done_min_one_success'
  | 'all_done_setup_success'
  | 'one_success'
  | 'one_failed'
  | 'one_done'
  | 'none_failed'
  | 'none_failed_min_one_success'
  | 'none_skipped'
  | 'always'
  | 'all_skipped';

/**
 * Every trigger rule, for validation and documentation.
 *
 * @example
 * ```ts
 * import { triggerRules, type TriggerRule } from 'taskmachine';
 * const isTriggerRule = (value: string): value is TriggerRule => (triggerRules as readonly string[]).includes(value);
 * triggerRules.length; // 13
 * ```
 */
export const triggerRules: readonly TriggerRule[] = Object.freeze([
  'all_success',
  'all_failed',
  'all_done',
  'all_done_min_one_success',
  'all_done_setup_success',
  'one_success',
  'one_failed',
  'one_done',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'always',
  'all_skipped',
]);

/**
 * How a task's upstream task instances have ended so far. Kept as incremental counters by the
 * scheduler: each upstream instance that finishes adds one, so evaluating a rule is O(1).
 */
export interface UpstreamCounts {
  /** Upstream task instances (a mapped upstream counts once per mapped instance). */
  total: number;
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  removed: number;
  /** Upstream instances of `setup` tasks, and how they ended (for `all_done_setup_success`). */
  setupTotal: number;
  setupSuccess: number;
  setupSkipped: number;
}

/** A fresh set of counters for a task with `total` upstream instances. */
export function emptyCounts(total = 0): UpstreamCounts {
  return {
    total,
    success: 0,
    skipped: 0,
    failed: 0,
    upstreamFailed: 0,
    removed: 0,
    setupTotal: 0,
    setupSuccess: 0,
    setupSkipped: 0,
  };
}

/**
 * Adds (`by` 1) or removes (`by` −1) one upstream instance's finished state to a downstream task's
 * counters; states that are not finished count nowhere.
 */
export function countUpstreamOutcome(counts: UpstreamCounts, state: TaskInstanceState, setup: boolean, by: 1 | -1): void {
  switch (state) {
    case 'success':
      counts.success += by;
      if (setup) counts.setupSuccess += by;
      break;
    case 'skipped':
      counts.skipped += by;
      if (setup) counts.setupSkipped += by;
      break;
    case 'failed':
      counts.failed += by;
      break;
    case 'upstream_failed':
      counts.upstreamFailed += by;
      break;
    case 'removed':
      counts.removed += by;
      break;
    default:
      break;
  }
}

/** What a trigger rule decides: keep waiting, run, or end the task without running it. */
export type TriggerDecision = 'wait' | 'run' | 'skipped' | 'upstream_failed';

/**
 * Evaluates a trigger rule with Airflow's semantics (`trigger_rule_dep.py` with
 * `flag_upstream_failed`): some rules decide early (e.g. `all_success` gives `upstream_failed` as
 * soon as one upstream failed), the others once every upstream is done.
 */
export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): TriggerDecision {
  if (c.total === 0 || rule === 'always') return 'run';
  const done = c.success + c.skipped + c.failed + c.upstreamFailed + c.removed;
  const allDone = done >= c.total;
  const failures = c.failed + c.upstreamFailed;
  switch (rule) {
    case 'all_success':
      if (failures > 0) return 'upstream_failed';
      if (c.skipped > 0) return 'skipped';
      return c.success >= c.total ? 'run' : 'wait';
    case 'all_failed':
      if (c.success > 0 || c.skipped > 0) return 'skipped';
      return failures >= c.total ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'all_done_min_one_success': {
      // Skipped upstreams do not count as done for this rule (Airflow).
      if (c.skipped > 0) return 'skipped';
      if (!allDone) return 'wait';
      return c.success === 0 ? 'upstream_failed' : 'run';
    }
    case 'all_done_setup_success':
      if (!allDone) return 'wait';
      if (c.setupTotal > 0 && c.setupSuccess === 0) {
        return c.setupSkipped >= c.setupTotal ? 'skipped' : 'upstream_failed';
      }
      return 'run';
    case 'one_success':
      if (c.success > 0) return 'run';
      if (!allDone) return 'wait';
      return c.skipped >= c.total ? 'skipped' : 'upstream_failed';
    case 'one_failed':
      if (failures > 0) return 'run';
      return allDone ? 'skipped' : 'wait';
    case 'one_done':
      if (c.success + c.failed > 0) return 'run';
      return allDone ? 'skipped' : 'wait';
    case 'none_failed':
      if (failures > 0) return 'upstream_failed';
      return c.success + c.skipped >= c.total ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (failures > 0) return 'upstream_failed';
      if (c.skipped >= c.total) return 'skipped';
      return c.success + c.skipped >= c.total ? 'run' : 'wait';
    case 'none_skipped':
      if (c.skipped > 0) return 'skipped';
      return allDone ? 'run' : 'wait';
    case 'all_skipped':
      if (c.success + failures > 0) return 'skipped';
      return c.skipped >= c.total ? 'run' : 'wait';
  }
}
