/**
 * The attribute names `taskmachine/otel` puts on spans, span events and metric points. They are
 * part of the public surface: dashboards and queries are written against them.
 *
 * @example
 * ```ts
 * import { ATTR } from 'taskmachine/otel';
 * const failedAttempts = spans.filter((s) => s.attributes[ATTR.finalState] === 'failed');
 * ```
 */
export const ATTR = Object.freeze({
  /** The flow's id (run span, metrics). */
  flowId: 'taskmachine.flow_id',
  /** The run's id (run and attempt spans). */
  runId: 'taskmachine.run_id',
  /** The task's id (attempt spans, events, metrics). */
  taskId: 'taskmachine.task_id',
  /** The task instance's key: `id`, `id[mapIndex]` or `parent/id#n` (attempt spans, events). */
  taskKey: 'taskmachine.task_key',
  /** A mapped instance's index (attempt spans; absent for other instances). */
  mapIndex: 'taskmachine.map_index',
  /** The caller's key, for an instance started with `ctx().call`. */
  parentKey: 'taskmachine.parent_key',
  /** The attempt number, 1-based. */
  attempt: 'taskmachine.attempt',
  /** Attempts the instance may take in all. */
  maxAttempts: 'taskmachine.max_attempts',
  /** The task's trigger rule. */
  triggerRule: 'taskmachine.trigger_rule',
  /** How an attempt (or a run) ended: the state it left the instance in, or `interrupted`. */
  finalState: 'taskmachine.final_state',
  /** For a failed attempt: `application`, `timeout`, `gate`, `infrastructure`, `interrupted` or `manual`. */
  failureKind: 'taskmachine.failure_kind',
  /** The state before a transition (span events). */
  previousState: 'taskmachine.previous_state',
  /** The listener `msg` of a transition, when it has one (`manually_set_to_failed`, …). */
  msg: 'taskmachine.msg',
  /** The readiness gates a queued instance waits on (gate-wait spans). */
  gates: 'taskmachine.gates',
  /** The run span of a run opened from its store with an earlier process's records. */
  resumed: 'taskmachine.resumed',
  /** A run span started again because a finished run got work again (a clear, a manual change). */
  reopened: 'taskmachine.reopened',
  /** The run span of a run this process let go of before its end (a graceful shutdown). */
  shutdown: 'taskmachine.shutdown',
  /** Why a run failed (`task_failure`, `cancelled`, …). */
  reason: 'taskmachine.reason',
  /** A successful attempt's result as JSON, with `recordResults: true`. */
  result: 'taskmachine.result',
  /** How an attempt ended (metrics: the attempt counter and duration histogram). */
  outcome: 'taskmachine.outcome',
  /** The run's final state (metrics: the run duration histogram). */
  state: 'taskmachine.state',
});

/**
 * The label a run listener stores with the run: the run span's context as a W3C `traceparent`,
 * so the span of a resumed run can link to it.
 *
 * @example
 * ```ts
 * const stored = await store.getRun(runId);
 * stored?.labels?.[TRACEPARENT_LABEL]; // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 * ```
 */
export const TRACEPARENT_LABEL = 'otel.traceparent';
