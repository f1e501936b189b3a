import { flowHash, flowShape } from '../flow/flowShape.ts';
import type { Flow } from '../flow/types.ts';

const hashes = new WeakMap<Flow, string>();

/**
 * The hash workers compare: the flow's definition hash, `flowHash(flowShape(flow))` — the one a
 * stored run records (`runs.flow_hash`) — remembered per flow object (a flow is immutable). Its
 * tasks, edges, trigger rules and options are in it; task code is not, so a changed task body with
 * the same graph and options is not told apart.
 *
 * @example
 * ```ts
 * import { definitionHash } from 'taskmachine/workers';
 * definitionHash(etl); // 'sha256:3f1c…'
 * ```
 */
export function definitionHash(flow: Flow): string {
  let hash = hashes.get(flow);
  if (hash === undefined) {
    hash = flowHash(flowShape(flow));
    hashes.set(flow, hash);
  }
  return hash;
}
