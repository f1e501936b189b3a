/**
 * Step-scope values the attempt executor reads: any decorator may publish them in `stepInit`
 * (`sys.publish(namespace, key, value)`), and the executor gives them meaning. The built-in
 * `environment` and `resources` decorators are two such publishers; the runtime knows only these
 * keys, never a particular decorator.
 *
 * @example
 * ```ts
 * import { EXECUTOR_KEYS } from './executorContract.ts';
 * const { namespace, key } = EXECUTOR_KEYS.env;
 * sys.publish(namespace, key, Object.freeze({ BUCKET: 's3://exports' })); // in stepInit
 * ```
 */
export const EXECUTOR_KEYS = Object.freeze({
  /** `Readonly<Record<string, string>>`: the attempt's `ctx().env`. */
  env: Object.freeze({ namespace: 'environment', key: 'vars' }),
  /**
   * `{ cpu, memoryMb, gpu, diskMb }`: what the task needs. The local executor reports it once per
   * task and run (it does not enforce it).
   */
  resources: Object.freeze({ namespace: 'resources', key: 'request' }),
});
