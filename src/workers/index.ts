// taskmachine/workers: attempts on worker processes sharing a PostgreSQL store (see docs/scale-out.md).
export { startWorker, type WorkerOptions, type WorkerHandle } from './worker.ts';
export { definitionHash } from '../flow/flowShape.ts';
export { WORKER_TIMING } from '../runtime/remote/timing.ts';
export { ATTEMPT_QUEUE, bossSchema } from '../runtime/remote/attemptQueue.ts';
