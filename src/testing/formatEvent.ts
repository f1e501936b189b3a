import type { EventObject } from 'xstate';
import { formatParams } from './machineGraph.ts';

/**
 * Renders an event for test names: the type, then its payload in parentheses. `true` flags show as
 * their name, other values as `key=value`.
 *
 * @example
 * ```ts
 * import { formatEvent } from 'taskmachine/testing';
 * formatEvent({ type: 'START', attempt: 2 }); // 'START(attempt=2)'
 * formatEvent({ type: 'FAIL', failFast: true }); // 'FAIL(failFast)'
 * formatEvent({ type: 'QUEUE' }); // 'QUEUE'
 * ```
 */
export function formatEvent(event: EventObject): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(event as Record<string, unknown>)) {
    if (key === 'type' || value === undefined) continue;
    parts.push(value === true ? key : formatParams({ [key]: value }));
  }
  return parts.length ? `${event.type}(${parts.join(', ')})` : event.type;
}
