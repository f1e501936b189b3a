import { RunOwnedError, toError } from '../errors.ts';
import type { Flow } from '../flow/types.ts';
import type { Gate } from '../gates/defineGate.ts';
import type { Listener } from '../listeners/types.ts';
import type { FlowRunHandle } from '../runtime/handle.ts';
import { OutageLog } from '../runtime/remote/outageLog.ts';
import { WORKER_TIMING } from '../runtime/remote/timing.ts';
import { startFlow } from '../runtime/runFlow.ts';
import type { PostgresStore } from '../stores/postgresStore.ts';
import { findAdoptable } from './adoption.ts';
import { DrivenRunLogs } from './drivenRunLogs.ts';

/**
 * A worker's adoption of orphaned runs: every `WORKER_TIMING.adoptEveryMs` it looks for runs of
 * its flows whose driver is gone (`findAdoptable`) and drives each it wins the lease of, with the
 * gates and listeners its flow file exports. A lookup that fails (PostgreSQL away) is logged once,
 * and once more when lookups work again.
 *
 * @example
 * ```ts
 * const adoption = new Adoption({ store, workerId: id, flows, drivingWith: {}, log: console.log });
 * adoption.stopLooking();
 * await adoption.letGo();
 * ```
 */
export class Adoption {
  readonly #options: AdoptionOptions;
  readonly #driven = new Map<string, FlowRunHandle>();
  readonly #logs = new DrivenRunLogs();
  readonly #lookups: OutageLog;
  readonly #timer: NodeJS.Timeout;
  #looking = false;
  #stopped = false;

  constructor(options: AdoptionOptions) {
    this.#options = options;
    this.#lookups = new OutageLog(options.log, `taskmachine worker ${options.workerId}: looking for runs to adopt`);
    this.#timer = setInterval(() => void this.#look(), WORKER_TIMING.adoptEveryMs);
    void this.#look();
  }

  /** The runs this worker drives now. */
  driving(): string[] {
    return [...this.#driven.keys()];
  }

  /** An attempt of a run ran here (so the run's driven log, if this worker drives it, skips its lines). */
  ran(runId: string, key: string, attempt: number): void {
    this.#logs.ran(runId, key, attempt);
  }

  /** No more lookups (the worker stops). */
  stopLooking(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** Lets go of every run it drives (at once: their attempts go on elsewhere); another worker takes them over. */
  async letGo(): Promise<void> {
    await Promise.all([...this.#driven.values()].map((handle) => handle.shutdown({ graceMs: 0 }).catch(() => undefined)));
  }

  async #look(): Promise<void> {
    if (this.#looking || this.#stopped) return;
    this.#looking = true;
    const { store, workerId, flows, log } = this.#options;
    try {
      const flowsAndHashes = [...flows.values()].map(({ flow, hash }) => ({ flowId: flow.id, hash }));
      for (const found of await findAdoptable(store.pool, `"${store.schema}"`, flowsAndHashes, Date.now())) {
        if (this.#driven.has(found.runId) || this.#stopped) continue;
        const handle = await this.#drive(found.runId, flows.get(found.flowId)!.flow, found.concurrency);
        if (handle === undefined) continue;
        this.#driven.set(found.runId, handle);
        log(`taskmachine worker ${workerId}: drives run '${found.runId}' (flow '${found.flowId}'): ${found.why}`);
        handle.done
          .then(
            // (A run this worker let go of when it stopped is `running` still: another worker takes it over.)
            ({ state, reason }) =>
              log(`taskmachine worker ${workerId}: ${state === 'running' ? `let go of run '${found.runId}'` : `run '${found.runId}' ended ${state}`}${reason ? ` (${reason})` : ''}`),
            (error: unknown) => log(`taskmachine worker ${workerId}: stopped driving run '${found.runId}': ${toError(error).message}`),
          )
          .finally(() => this.#driven.delete(found.runId));
      }
      this.#lookups.ok();
    } catch (error) {
      this.#lookups.failed(error);
    } finally {
      this.#looking = false;
    }
  }

  /** The run opened and driven by this worker, or `undefined` when another process won it (or it failed to open: logged). */
  async #drive(runId: string, flow: Flow, concurrency: number | undefined): Promise<FlowRunHandle | undefined> {
    const { store, workerId, drivingWith, log } = this.#options;
    try {
      const driving = drivingWith?.[flow.id];
      const handle = startFlow(flow, {
        runId,
        store,
        executor: 'workers',
        resume: true,
        ...(concurrency === undefined ? {} : { concurrency }),
        log: this.#logs.logFor(runId, log),
        ...(driving?.gates !== undefined ? { gates: driving.gates } : {}),
        ...(driving?.listeners !== undefined ? { listeners: driving.listeners } : {}),
      });
      await handle.ready();
      return handle;
    } catch (error) {
      if (!(error instanceof RunOwnedError)) log(`taskmachine worker ${workerId}: could not adopt run '${runId}': ${toError(error).message}`);
      return undefined;
    }
  }
}

/** What {@link Adoption} needs of its worker. */
export interface AdoptionOptions {
  readonly store: PostgresStore;
  readonly workerId: string;
  /** The worker's flows by id, with their definition hashes. */
  readonly flows: ReadonlyMap<string, { readonly flow: Flow; readonly hash: string }>;
  readonly drivingWith: Readonly<Record<string, { readonly gates?: readonly Gate[]; readonly listeners?: readonly Listener[] }>> | undefined;
  readonly log: (line: string) => void;
}
