import { defineDecorator } from '../defineDecorator.ts';
import { EXECUTOR_KEYS } from '../executorContract.ts';

const { namespace, key } = EXECUTOR_KEYS.resources;

/**
 * A task's resource request, merged by max across its `resources` decorators.
 *
 * @example
 * ```ts
 * import { defineDecorator, type ResourceRequest } from 'taskmachine';
 * export const gpuPool = defineDecorator({ name: 'gpu-pool', defaults: {}, hooks: {
 *   beforeAttempt(sys) {
 *     const request = sys.getPublished('resources', 'request') as ResourceRequest | undefined;
 *     if (request !== undefined && request.gpu > 0) sys.publish('pool', 'name', 'gpu');
 *   },
 * } });
 * ```
 */
export interface ResourceRequest {
  cpu: number;
  memoryMb: number;
  gpu: number;
  diskMb: number;
}

/**
 * Declares what a task needs. Several `resources` decorators on one task merge by maximum; the
 * merged request is published in step scope as `('resources', 'request')` for other decorators,
 * gates and executors. The local executor logs it but does not enforce it.
 *
 * @example
 * ```ts
 * import { resources } from 'taskmachine';
 * f.task('train', train, { decorators: [resources({ cpu: 4, memoryMb: 16_384, gpu: 1 })] });
 * ```
 */
export const resources = defineDecorator({
  name: 'resources',
  allowMultiple: true,
  defaults: {
    /** CPU cores. @default 1 */
    cpu: 1,
    /** Memory in MiB. @default 1024 */
    memoryMb: 1024,
    /** GPUs. @default 0 */
    gpu: 0,
    /** Disk in MiB. @default 0 */
    diskMb: 0,
  },
  validate(params) {
    return Object.entries(params)
      .filter(([, value]) => !(typeof value === 'number' && Number.isFinite(value) && value >= 0))
      .map(([key, value]) => `${key} must be a number ≥ 0, got ${JSON.stringify(value)}`);
  },
  hooks: {
    stepInit(sys, params) {
      const current = sys.getPublished(namespace, key) as ResourceRequest | undefined;
      const merged: ResourceRequest = current
        ? {
            cpu: Math.max(current.cpu, params.cpu),
            memoryMb: Math.max(current.memoryMb, params.memoryMb),
            gpu: Math.max(current.gpu, params.gpu),
            diskMb: Math.max(current.diskMb, params.diskMb),
          }
        : { cpu: params.cpu, memoryMb: params.memoryMb, gpu: params.gpu, diskMb: params.diskMb };
      sys.publish(namespace, key, Object.freeze(merged));
    },
  },
});
