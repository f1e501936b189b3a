import type { TaskInstance } from '../instances/taskInstance.ts';
import { Fifo } from './fifo.ts';

/**
 * Which task instances may go further, and when: instances whose dependencies are met wait in
 * `ready` until the scheduling window has room (Airflow also schedules in batches: an instance
 * stays `none` until the scheduler picks it up), scheduled ones wait in `toQueue` for their
 * `QUEUE`, and queued ones whose gates passed wait in `waitingForSlot` until fewer than
 * `concurrency` attempts run. Children started with `ctx().call` run inside their caller's slot
 * and never wait for one (a caller waiting for a child that waits for a slot would deadlock).
 *
 * Queue entries can go stale (a manual change moves an instance elsewhere): each instance carries
 * the queue it waits in (`queuedAs`), and an entry whose instance moved on is skipped.
 */
export class Admission {
  readonly concurrency: number;
  /** Most instances scheduled ahead of a free slot. */
  readonly windowSize: number;
  /** Instances (re)entering `scheduled` that are to be queued. */
  readonly toQueue = new Fifo<TaskInstance>();
  readonly #ready = new Fifo<TaskInstance>();
  readonly #waitingForSlot = new Fifo<TaskInstance>();
  /** Attempts of DAG task instances running now (each holds a slot). */
  running = 0;
  /** Attempts of called children running now (in their callers' slots). */
  childrenRunning = 0;

  constructor(concurrency: number) {
    this.concurrency = concurrency;
    this.windowSize = Math.max(32, concurrency * 2);
  }

  /** Dependencies met: the instance waits for the scheduling window. */
  enqueueReady(instance: TaskInstance): void {
    instance.queuedAs = 'ready';
    this.#ready.push(instance);
  }

  /** Queued and its gates passed: the instance waits for a slot. */
  enqueueForSlot(instance: TaskInstance): void {
    instance.queuedAs = 'slot';
    this.#waitingForSlot.push(instance);
  }

  /** The next ready instance to schedule, if the window has room. */
  takeReady(): TaskInstance | undefined {
    while (this.#waitingForSlot.length < this.windowSize) {
      const instance = this.#ready.shift();
      if (instance === undefined) return undefined;
      if (instance.queuedAs !== 'ready' || instance.state !== 'none') continue;
      instance.queuedAs = undefined;
      return instance;
    }
    return undefined;
  }

  /** The next queued instance to start, if a slot is free. */
  takeForSlot(): TaskInstance | undefined {
    while (this.running < this.concurrency) {
      const instance = this.#waitingForSlot.shift();
      if (instance === undefined) return undefined;
      if (instance.queuedAs !== 'slot' || instance.state !== 'queued') continue;
      instance.queuedAs = undefined;
      return instance;
    }
    return undefined;
  }

  attemptStarted(instance: TaskInstance): void {
    if (instance.isChild) this.childrenRunning++;
    else this.running++;
  }

  attemptEnded(instance: TaskInstance): void {
    if (instance.isChild) this.childrenRunning--;
    else this.running--;
  }

  /** Whether instances wait for a slot (stale entries count until skipped). */
  get hasWaitingForSlot(): boolean {
    return this.#waitingForSlot.length > 0;
  }

  /** Attempts running now, children included. */
  get inFlight(): number {
    return this.running + this.childrenRunning;
  }

  /** Nothing is waiting in any queue (stale entries count as waiting until skipped). */
  get empty(): boolean {
    return this.toQueue.length === 0 && this.#ready.length === 0 && this.#waitingForSlot.length === 0;
  }
}
