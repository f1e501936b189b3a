import { context, trace } from '@opentelemetry/api';
import { parseTraceparent } from './traceparent.ts';

/**
 * Calls `fn` with the span a W3C `traceparent` names (made in another process: an attempt's span
 * in its driver) as the active parent, so the spans made inside — by task code, by instrumented
 * clients — join that trace. A `traceparent` that is not valid calls `fn` as it is. Workers load
 * this module only for jobs that carry one (`@opentelemetry/api` is an optional peer).
 *
 * @example
 * ```ts
 * withRemoteParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', () => runTheAttempt());
 * ```
 */
export function withRemoteParent<T>(traceparent: string, fn: () => T): T {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return fn();
  return context.with(trace.setSpanContext(context.active(), parent), fn);
}
