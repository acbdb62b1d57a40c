/**
 * The names `instrumentLimiter` reports under, in the style of .NET's `aspnetcore.rate_limiting.*`
 * semantic conventions (`requests` with a `result`, `request.time_in_queue` in seconds,
 * `queued_requests`), without the framework prefix. Exported so dashboards and tests can refer
 * to them rather than retype them.
 */
export const RATE_LIMITING_METRICS = {
  /** Counter `{request}`: values that asked a limiter, by `rate_limiting.result`. */
  requests: 'rate_limiting.requests',
  /** Counter `{token}`: the cost of those values, by `rate_limiting.result`. */
  requestCost: 'rate_limiting.request.cost',
  /** Histogram `s`: how long a granted value waited in the queue (values granted at once are not recorded). */
  timeInQueue: 'rate_limiting.request.time_in_queue',
  /** UpDownCounter (observable) `{request}`: values waiting now. */
  queuedRequests: 'rate_limiting.queued_requests',
  /** UpDownCounter (observable) `{token}`: the cost of the values waiting now. */
  queuedCost: 'rate_limiting.queued_cost',
  /** Gauge (observable) `{token}`: tokens that could be taken now (a KeyedBuckets: its global bucket's). */
  tokensAvailable: 'rate_limiting.tokens.available',
  /** Gauge (observable) `{token}`: the burst size. */
  tokensCapacity: 'rate_limiting.tokens.capacity',
  /** Gauge (observable) `{token}/s`: the refill rate, per second whatever the bucket's `interval`. */
  refillRate: 'rate_limiting.refill_rate',
  /** UpDownCounter (observable) `{key}`: keys a KeyedBuckets holds in memory now. */
  keys: 'rate_limiting.keys',
  /** Counter `{error}`: failed store calls of a RedisTokenBucket, by `rate_limiting.store.policy`. */
  storeErrors: 'rate_limiting.store.errors',
} as const;

/** The attributes; all low-cardinality except `rate_limiting.key`, which is only added when asked for. */
export const RATE_LIMITING_ATTRIBUTES = {
  /** The `name` given to `instrumentLimiter` (default: the limiter's kind). */
  limiter: 'rate_limiting.limiter',
  /** `granted`, `dropped`, `rejected` or `cancelled`. */
  result: 'rate_limiting.result',
  /** Why a value was dropped or rejected: a `RefusalReason` (`no-tokens`, `max-queue`, `max-wait`, `retry-limit`, `max-keys`). */
  reason: 'rate_limiting.reason',
  /** A RedisTokenBucket's grants: where the tokens came from (`store`, `fail-open`, `local`). */
  grantSource: 'rate_limiting.grant_source',
  /** A RedisTokenBucket's store errors: what became of the value (`fail-closed`, `fail-open`, `local`). */
  storePolicy: 'rate_limiting.store.policy',
  /** A KeyedBuckets' key, as `perKeyAttribute` labels it. */
  key: 'rate_limiting.key',
} as const;

export type RateLimitingResult = 'granted' | 'dropped' | 'rejected' | 'cancelled';

/** Time-in-queue bucket boundaries (s): from a millisecond to a minute, as rate-limit waits range. */
export const TIME_IN_QUEUE_BOUNDARIES: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
