export { TokenBucket } from './limiters/TokenBucket';
export { MAX_TIMER_DELAY } from './waiting/SingleTimer';
export type { TokenBucketOptions, TokenBucketLimits } from './limiters/bucketOptions';
export type {
  TokenBucketStats,
  TokenBucketEvent,
  GrantedEvent,
  QueuedEvent,
  CancelledEvent,
  ReconfiguredEvent,
  AdjustedEvent,
} from './limiters/TokenBucketStats';
export type { AcquireOptions, ExecuteOptions } from './limiters/acquire';
export type { TakeOptions } from './limiters/TakeWaiter';
export type { LimiterStats, LimiterCounts, RefusalEvent } from './limiters/LimiterCounters';
export { TokenLedger } from './arithmetic/TokenLedger';
export type { LedgerLimits } from './arithmetic/TokenLedger';
export type { Waiter } from './waiting/WaitQueue';
export { TOKEN_LIMITER, isLimiter } from './limiters/TokenLimiter';
export type { TokenLimiter, Refusal } from './limiters/TokenLimiter';
export { monotonicScheduler } from './waiting/monotonicScheduler';
export { throttleByTokens } from './operators/throttleByTokens';
export type { Cost, ThrottleByTokensConfig, ThrottleStrategy } from './operators/throttleByTokens';
export { RateLimitExceededError } from './shared/errors';
export type { RefusalReason } from './shared/errors';
export { adaptiveThrottle } from './operators/adaptiveThrottle';
export type { AdaptiveThrottleConfig, AdaptableLimiter, FeedbackSource } from './operators/adaptiveThrottle';
export { planAdaptation } from './arithmetic/adaptation';
export type { RateLimitFeedback, AdaptationPlan, AdaptationSettings } from './arithmetic/adaptation';
export type { AdaptOptions } from './limiters/adaptOptions';
export { RateSearch, DEFAULT_PROBE_INCREASE } from './arithmetic/rateSearch';
export type { RateSearchSettings } from './arithmetic/rateSearch';
export {
  parseRateLimitHeaders,
  parseRateLimitHeadersDetailed,
  MAX_RESET_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  MAX_COUNT,
  MAX_BUDGETS,
  MAX_FIELD_LENGTH,
  MAX_PROBLEMS,
  MAX_PROBLEM_VALUE_LENGTH,
} from './http/parseRateLimitHeaders';
export type {
  RateLimitInfo,
  RateLimitBudget,
  RateLimitHeaderProblem,
  RateLimitHeaderFormat,
  ParsedRateLimitHeaders,
  HeadersLike,
  FetchHeadersLike,
  HeaderValue,
  HeadersCarrier,
} from './http/parseRateLimitHeaders';
export { perKey } from './operators/perKey';
export type { PerKeyConfig } from './operators/perKey';
export { KeyedBuckets, DEFAULT_MAX_KEYS } from './limiters/keyed/KeyedBuckets';
export type { KeyedBucketsOptions } from './limiters/keyed/KeyedBuckets';
export type { KeyedExecuteOptions } from './limiters/keyed/keyedWaiters';
export type { KeyedBucketsStats, KeyStats, KeyedBucketsEvent } from './limiters/keyed/KeyedBucketsStats';
export { KEYED_LIMITER, isKeyedLimiter } from './limiters/keyed/KeyedLimiter';
export type { Admission, KeyedLimiter, KeyedWaiter, KeyedRefusal, KeyedRefusalReason } from './limiters/keyed/KeyedLimiter';
export type { BucketFor, KeyLimits, KeyLimitsPatch, KeyRule, KeyRules } from './limiters/keyed/KeyLimitTable';
