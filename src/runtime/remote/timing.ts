/**
 * How fast attempts on workers are seen to end or to be lost. Fixed (not options): the
 * documented bounds of detection in docs/scale-out.md.
 *
 * @example
 * ```ts
 * WORKER_TIMING.lostAfterMs; // 10_000: a worker silent this long has lost its attempts
 * ```
 */
export const WORKER_TIMING = Object.freeze({
  /** How often a driver polls the launches it has in flight for outcomes. @default 20 */
  pollMs: 20,
  /**
   * How often a driver polls while notifications from workers reach it (each stored outcome wakes
   * it at once: the poll only catches one lost while its LISTEN connection was down). @default 250
   */
  notifiedPollMs: 250,
  /** The least time between two polls a worker's notification asks for (those in between wait and go together). @default 10 */
  notifiedPollGapMs: 10,
  /** How often an idle worker asks pg-boss for attempt jobs (a busy one asks as a slot frees). @default 100 */
  idlePollMs: 100,
  /** The same while drivers' notifications reach the worker (each commit of jobs wakes it at once). @default 1000 */
  notifiedIdlePollMs: 1_000,
  /** How often a worker heartbeats the launches it runs (and learns of aborted ones). @default 1000 */
  heartbeatMs: 1_000,
  /**
   * How often a worker whose attempts wait for `ctx().call` answers reads them while drivers'
   * notifications reach it (each stored answer wakes it at once; without notifications it reads
   * every `idlePollMs`). @default 1000
   */
  answerPollMs: 1_000,
  /** A running launch without a heartbeat for this long is lost: an interruption. @default 10000 */
  lostAfterMs: 10_000,
  /** Attempts no worker took for this long are logged by the driver and shown by `status` (is a worker running?). @default 10000 */
  unclaimedNoticeMs: 10_000,
  /** How often a worker looks for runs to adopt (unfinished, lease expired or released). @default 2000 */
  adoptEveryMs: 2_000,
});
