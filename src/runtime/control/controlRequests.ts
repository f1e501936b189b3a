import { toError } from '../../errors.ts';
import type { ControlSettlement, Store, StoredControlRequest } from '../../stores/index.ts';

/** What applying a control request needs from the run. */
export interface ControlRequestsHost {
  /** Applies the request through the machines; returns what changed, throws when it is refused. */
  apply(request: StoredControlRequest): string;
  /** The answer, committed with the next batch (with the changes the request caused). */
  settle(settlement: ControlSettlement): void;
  now(): number;
  log(line: string): void;
}

/**
 * Manual changes asked of this run by other processes (`taskmachine set-state`, `clear`,
 * `resume-task`, `send-event`, `cancel` while this process owns the run): the owner polls the
 * store for pending control requests a few times a second, applies each through the machines in
 * arrival order — a change the machine refuses is answered `refused` with its error — and the
 * answer commits in the same batch as the transitions it caused, so a request is applied exactly
 * once. Polls run on unreferenced platform timers (they never keep the process alive).
 */
export class ControlRequests {
  readonly #store: Store;
  readonly #runId: string;
  readonly #host: ControlRequestsHost;
  readonly #intervalMs: number;
  /** Requests applied but perhaps not committed yet (a poll may see them pending again). */
  readonly #handled = new Set<number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling = false;

  constructor(store: Store, runId: string, host: ControlRequestsHost, intervalMs = 200) {
    this.#store = store;
    this.#runId = runId;
    this.#host = host;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Applies the pending requests once (also what each timer tick does). */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const pending = await this.#store.pendingControls(this.#runId);
      for (const request of pending) {
        if (this.#handled.has(request.id)) continue;
        this.#handled.add(request.id);
        let settlement: ControlSettlement;
        try {
          settlement = { id: request.id, status: 'applied', message: this.#host.apply(request), at: this.#host.now() };
        } catch (error) {
          settlement = { id: request.id, status: 'refused', message: toError(error).message, at: this.#host.now() };
        }
        this.#host.settle(settlement);
      }
    } catch (error) {
      this.#host.log(`taskmachine: reading the control requests of run '${this.#runId}' failed: ${toError(error).message}`);
    } finally {
      this.#polling = false;
    }
  }
}
