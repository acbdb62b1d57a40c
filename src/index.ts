export { TokenBucket, MAX_TIMER_DELAY } from './scheduler/TokenBucket';
export type { TokenBucketOptions, TokenBucketLimits, TokenBucketStats, TokenBucketEvent } from './scheduler/TokenBucket';
export { TokenLedger } from './scheduler/TokenLedger';
export type { LedgerLimits } from './scheduler/TokenLedger';
export type { Waiter } from './scheduler/WaitQueue';
export type { TokenLimiter, Refusal } from './scheduler/TokenLimiter';
export { monotonicScheduler } from './scheduler/monotonicScheduler';
export { throttleByTokens } from './operators/throttleByTokens';
export type { Cost, ThrottleByTokensConfig, ThrottleStrategy } from './operators/throttleByTokens';
export { RateLimitExceededError } from './errors';
export type { RefusalReason } from './errors';
export { adaptiveThrottle } from './operators/adaptiveThrottle';
export type { AdaptiveThrottleConfig, AdaptableLimiter, FeedbackSource } from './operators/adaptiveThrottle';
export { planAdaptation } from './scheduler/adaptation';
export type { RateLimitFeedback, AdaptationPlan, AdaptationSettings } from './scheduler/adaptation';
export type { AdaptOptions } from './scheduler/TokenBucket';
export { AimdRateSearch } from './scheduler/aimd';
export type { AimdSettings } from './scheduler/aimd';
export { parseRateLimitHeaders, parseRateLimitHeadersDetailed, MAX_RESET_MS, MAX_WINDOW_MS } from './http/parseRateLimitHeaders';
export type {
  RateLimitInfo,
  RateLimitBudget,
  RateLimitHeaderProblem,
  RateLimitHeaderFormat,
  ParsedRateLimitHeaders,
  HeadersLike,
  FetchHeadersLike,
  HeaderValue,
} from './http/parseRateLimitHeaders';
export { perKey } from './operators/perKey';
export type { PerKeyConfig } from './operators/perKey';
export { KeyedBuckets, DEFAULT_MAX_KEYS } from './scheduler/KeyedBuckets';
export type { KeyedBucketsOptions } from './scheduler/KeyedBuckets';
export type { KeyedBucketsStats, KeyStats, KeyedBucketsEvent } from './scheduler/KeyedBucketsStats';
export { Admission } from './scheduler/KeyedLimiter';
export type { KeyedLimiter, KeyedWaiter, KeyedRefusal, KeyedRefusalReason } from './scheduler/KeyedLimiter';
export type { BucketFor, KeyLimits, KeyLimitsPatch, KeyRule, KeyRules } from './scheduler/KeyLimitTable';
