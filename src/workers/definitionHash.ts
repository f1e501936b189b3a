import { createHash } from 'node:crypto';
import type { Flow } from '../flow/types.ts';

/**
 * A hash of a flow definition as workers compare it: the flow id and, per task in order, its id,
 * kind, dependencies, trigger rule, retry and timeout settings, decorators' names and the source
 * text of its function. Two processes that loaded the same flow file get the same hash; a changed
 * task body, dependency or option changes it. (A minimal version: the `flowShape()`/`flowHash()`
 * of `src/flow/flowShape.ts` replaces it once that lands.)
 *
 * @example
 * ```ts
 * import { definitionHash } from 'taskmachine/workers';
 * definitionHash(etl); // 'c1f0…' (16 hex digits)
 * ```
 */
export function definitionHash(flow: Flow): string {
  const hash = createHash('sha256');
  hash.update(`flow ${flow.id}\n`);
  for (const task of flow.tasks) {
    const parts = [
      task.id,
      task.kind,
      task.trigger,
      task.retries,
      task.retryDelay,
      task.retryBackoff,
      task.maxRetryDelay,
      task.timeout ?? '-',
      task.resumeAfter ?? '-',
      task.upstream.map((i) => flow.tasks[i]?.id ?? i).join(','),
      task.mapOver,
      task.decorators.map((d) => d.name).join(','),
    ];
    hash.update(`task ${JSON.stringify(parts)}\n${String(task.fn)}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}
