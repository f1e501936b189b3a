import type { HrTime } from '@opentelemetry/api';

/**
 * Epoch milliseconds (the run's clock) as an OpenTelemetry time. A tuple, not a number: the SDK
 * takes a number smaller than `performance.now()` for a performance timestamp, which a test
 * clock's early times would be.
 */
export function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}
