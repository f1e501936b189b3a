// Which attempts a worker refuses, and the runs whose jobs its fetches skip after refusing them.
import { ATTEMPT_PAYLOAD_FORMAT, attemptGroup, type AttemptJobData } from '../runtime/remote/attemptQueue.ts';
import { shortHash } from '../flow/flowShape.ts';

/**
 * Why a worker that loaded the flows `loaded` (id → definition hash) cannot run an attempt job —
 * another payload format, a flow it did not load, another definition — or `undefined` when it can.
 *
 * @example
 * ```ts
 * refusalOf(job.data, new Map([['etl', definitionHash(etl)]])); // undefined: this worker runs it
 * ```
 */
export function refusalOf(data: AttemptJobData, loaded: ReadonlyMap<string, string>): string | undefined {
  if (data.format !== ATTEMPT_PAYLOAD_FORMAT) {
    return (
      `its job is in format ${data.format ?? 1} (this worker runs format ${ATTEMPT_PAYLOAD_FORMAT}): ` +
      'the run is driven by another version of taskmachine. Run the same taskmachine version on every worker and driver.'
    );
  }
  const hash = loaded.get(data.flowId);
  if (hash === undefined) return `it has no flow '${data.flowId}' loaded (it loaded: ${[...loaded.keys()].join(', ')})`;
  if (hash !== data.flowHash) {
    return (
      `its flow '${data.flowId}' has definition ${shortHash(hash)}, the run's is ${shortHash(data.flowHash)}: ` +
      'the flow files differ from the ones the run was started with. Deploy the same flow files to every worker and driver.'
    );
  }
  return undefined;
}

/**
 * The job groups (one per run, see {@link attemptGroup}) a worker refused, newest last, for its
 * fetches to skip (pg-boss's `ignoreGroups`): a refused run's jobs then go to the workers that can
 * run them instead of coming back to this one. Bounded: past `max` runs the oldest is forgotten
 * (and refused once more if its run still has jobs queued).
 *
 * @example
 * ```ts
 * const refused = new RefusedGroups(256);
 * refused.add(job.data);
 * boss.fetch(ATTEMPT_QUEUE, { batchSize: 4, ...refused.fetchOptions() });
 * ```
 */
export class RefusedGroups {
  readonly #max: number;
  readonly #groups = new Set<string>();

  /** @param max how many refused runs to skip at most @default 256 */
  constructor(max = 256) {
    this.#max = max;
  }

  /**
   * Records a refused job's group (its run) and returns it, for the job handed back, and whether
   * the list is full (it forgot a run to make room: that run's jobs may come back to this worker).
   */
  add(data: AttemptJobData): { group: string; full: boolean } {
    const group = attemptGroup(data);
    this.#groups.delete(group);
    this.#groups.add(group);
    const full = this.#groups.size > this.#max;
    if (full) this.#groups.delete(this.#groups.values().next().value!);
    return { group, full };
  }

  /** The fetch options that skip the refused groups (none while there are none). */
  fetchOptions(): { ignoreGroups?: string[] } {
    return this.#groups.size > 0 ? { ignoreGroups: [...this.#groups] } : {};
  }
}
