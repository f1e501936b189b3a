// `taskmachine/otel`: OpenTelemetry traces and metrics for runs. The only module of the package
// that imports `@opentelemetry/api` (an optional peer dependency): the main entry never loads it.
export { openTelemetry, type OpenTelemetryOptions } from './openTelemetry.ts';
export { ATTR, TRACEPARENT_LABEL } from './attributes.ts';
export { METRICS } from './runMetrics.ts';
