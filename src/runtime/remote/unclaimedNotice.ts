import type { SqlSession } from '../../stores/postgresStore.ts';
import type { LaunchState, LaunchTable } from './launchTable.ts';
import { WORKER_TIMING } from './timing.ts';

/**
 * A launch the driver has in flight, as the notice needs it.
 *
 * @example
 * ```ts
 * const launch: WaitingLaunch = { id: launchId, run, launchedAt: clock.now() };
 * ```
 */
export interface WaitingLaunch {
  readonly id: string;
  readonly run: { readonly instance: { readonly key: string } };
  /** When the driver handed it out (the run's clock). */
  readonly launchedAt: number;
}

/**
 * What {@link UnclaimedNotice} needs: the launch table, where to ask it, the run and the driver's log.
 *
 * @example
 * ```ts
 * const parts: UnclaimedNoticeParts = { table, db: store.pool, runId: 'nightly', flowId: 'etl', log: console.log };
 * ```
 */
export interface UnclaimedNoticeParts {
  readonly table: LaunchTable;
  readonly db: SqlSession;
  readonly runId: string;
  readonly flowId: string;
  readonly log: (line: string) => void;
}

/**
 * The driver's one log line when attempts have waited {@link WORKER_TIMING.unclaimedNoticeMs} and
 * no worker took any of the run's while no worker runs anything (none runs, or none loaded this
 * flow); once more if it happens again after a worker took one. Refused attempts say why on their
 * own. `status` says the same from the stored launches (`LaunchTable.unclaimed`).
 *
 * @example
 * ```ts
 * const notice = new UnclaimedNotice({ table, db: store.pool, runId, flowId: flow.id, log });
 * await notice.check(polledStates, inFlight.values(), () => pending.map((p) => p.launchId), clock.now());
 * ```
 */
export class UnclaimedNotice {
  readonly #parts: UnclaimedNoticeParts;
  #logged = false;
  /** When the driver last asked whether workers are busy with other runs (run clock). */
  #busyCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(parts: UnclaimedNoticeParts) {
    this.#parts = parts;
  }

  /**
   * After any poll, also one that read only some launches: a launch a worker claimed or finished
   * means workers take this run's attempts, so a later wait is worth a notice again. Returns
   * whether there was one.
   */
  sawTaken(states: readonly LaunchState[]): boolean {
    for (const state of states) {
      if (state.status === 'running' || state.status === 'done') {
        this.#logged = false;
        return true;
      }
    }
    return false;
  }

  /** The run was opened again: a new notice may be due. */
  reset(): void {
    this.#logged = false;
  }

  /**
   * After a poll: `states` are the launches it returned — only ones a worker claimed, finished,
   * lost or refused, so an in-flight launch it did not return (and not among `uncommittedIds`,
   * still in the driver's next batch) is still queued.
   */
  async check(states: readonly LaunchState[], inFlight: Iterable<WaitingLaunch>, uncommittedIds: () => Iterable<string>, now: number): Promise<void> {
    if (this.sawTaken(states)) return;
    if (this.#logged) return;
    const reported = new Set(states.map((state) => state.launchId));
    const uncommitted = new Set(uncommittedIds());
    const waiting = [...inFlight]
      .filter((launch) => !reported.has(launch.id) && !uncommitted.has(launch.id) && now - launch.launchedAt >= WORKER_TIMING.unclaimedNoticeMs)
      .sort((a, b) => a.launchedAt - b.launchedAt);
    if (waiting.length === 0) return;
    // Workers busy with other runs' attempts are not "no worker" (asked at most once a second).
    if (now - this.#busyCheckedAt < WORKER_TIMING.heartbeatMs) return;
    this.#busyCheckedAt = now;
    const { table, db, runId, flowId, log } = this.#parts;
    if (await table.workersBusy(db, Date.now() - WORKER_TIMING.lostAfterMs)) return;
    this.#logged = true;
    const shown = waiting.slice(0, 3).map((launch) => `'${launch.run.instance.key}'`).join(', ');
    log(
      `taskmachine: no worker has taken an attempt of run '${runId}' for ${Math.round(WORKER_TIMING.unclaimedNoticeMs / 1000)} s ` +
        `(${waiting.length} waiting: ${shown}${waiting.length > 3 ? ', …' : ''}): is one running with this flow? Start one with ` +
        `'taskmachine worker <the flow file> --store <this store>' — a worker runs attempts of the flows it loaded (flow '${flowId}' here).`,
    );
  }
}
