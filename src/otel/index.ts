/**
 * `rxjs-token-bucket/otel`: OpenTelemetry metrics for the limiters (`@opentelemetry/api` is an
 * optional peer; only its API is used, so the application chooses the SDK and exporter).
 */
export { instrumentLimiter } from './instrumentLimiter';
export type { InstrumentLimiterOptions, LimiterInstrumentation, InstrumentableBucket } from './instrumentLimiter';
export { RATE_LIMITING_METRICS, RATE_LIMITING_ATTRIBUTES, TIME_IN_QUEUE_BOUNDARIES } from './names';
export type { RateLimitingResult } from './names';
export type { LimiterKind } from './limiterKind';
