import type { SchedulerLike } from 'rxjs';
import { checkChoice, checkKnownKeys, checkNumberOption, checkScheduler } from '../shared/checks';
import { describe } from '../shared/describe';
import { checkRedisLimits } from './limitsRange';
import type { RedisClient } from './scripts';

/**
 * What a value does when Redis cannot answer (unreachable, slower than `timeout`, refusing
 * the script, or answering with a malformed reply):
 * - `'fail-closed'`: the value's stream errors with a `RedisStoreError`. Nothing passes
 *   that Redis did not grant.
 * - `'fail-open'`: the value is granted at once, unlimited, and counted (`stats().failOpenGrants`).
 * - `'local'`: the value is granted by an in-memory `TokenBucket` holding `localShare` of
 *   the limit, until Redis answers again.
 */
export type StoreErrorPolicy = 'fail-closed' | 'fail-open' | 'local';

/** Whose clock the script refills by: the Redis server's `TIME`, or each client's wall clock. */
export type StoreClock = 'server' | 'client';

export interface RedisTokenBucketOptions {
  /** The user's ioredis client (`Redis` or `Cluster`). The bucket never connects, quits or reconnects it. Required. */
  redis: RedisClient;
  /** Names the shared limit: every bucket with the same `key` (and `keyPrefix`) shares one state. Non-empty. Required. */
  key: string;
  /**
   * Burst size: the most tokens the bucket holds. In [1e-6, 1e15], the range Redis holds
   * exactly (see `REDIS_LIMIT_RANGES`). Required.
   */
  capacity: number;
  /**
   * Tokens added per `interval` ms. Finite, > 0, at most 1e12 per ms, and filling the bucket
   * within 1e12 ms (about 31.7 years): beyond, Redis cannot hold the waits exactly. Required.
   */
  refillRate: number;
  /** The period of `refillRate`, in ms. Finite, > 0. Default `1000` (so `refillRate` is per second). */
  interval?: number;
  /**
   * Prefix of the Redis key, which is `${keyPrefix}{${key}}`: the braces make `key` the
   * hash tag, so a cluster keeps the state on one node. Default `'rtb:'`.
   */
  keyPrefix?: string;
  /**
   * `'server'` (default): the script reads Redis's `TIME`, so processes never trust each
   * other's clocks (and a step of this process's wall clock changes nothing). `'client'`:
   * each call passes this process's wall clock, for servers that refuse `TIME` in scripts;
   * it is read once at construction and advanced by the monotonic clock. Until a process has
   * heard one reply, a reading more than 250 ms ahead of the stored clock moves nothing (it
   * is read as the stored clock), and one more than 250 ms behind is raised to it; the reply
   * tells the process by how much, and it moves its clock so, once. So a client whose clock
   * is ahead never makes the others wait out its skew, and one behind does not wait it out
   * on each value. Clocks that disagree by less cost throughput, never the limit.
   */
  clock?: StoreClock;
  /** What a value does when Redis cannot answer. Default `'fail-closed'`. See {@link StoreErrorPolicy}. */
  onStoreError?: StoreErrorPolicy;
  /**
   * `onStoreError: 'local'` only: the share of `capacity` and `refillRate` this process
   * may use on its own while Redis is down, in (0, 1]. Default `1` (the whole limit for
   * each process: with N processes, set `1 / N` to stay within the limit).
   */
  localShare?: number;
  /** Ms to wait for each Redis call before treating Redis as failing. Finite, > 0. Default `1000`. */
  timeout?: number;
  /**
   * Ms between attempts to reach Redis again while it is failing: one value is sent as a
   * probe at most this often, the others go straight to `onStoreError`. Finite, >= 0. Default `1000`.
   */
  probeInterval?: number;
  /**
   * Most values of this bucket asked of Redis and not yet granted: values in calls not yet
   * answered (withdrawn ones too, until their call answers or times out) plus reservations
   * waiting for their time. Bounds how far ahead one process reserves. Values waiting to be
   * asked go together: one reserve call is out at a time, the first value at once, and what
   * arrives meanwhile in the next call, as soon as that one answers (at most 256 a call, and
   * never beyond `maxInFlight`). An integer >= 1. Default `64`.
   */
  maxInFlight?: number;
  /**
   * The lease: when a reserve call of a busy process (carrying several values, or sent within
   * `time` of its last grant) finds the bucket still holding tokens after its values (no pause,
   * nothing reserved ahead), Redis also takes up to `maxTokens` whole tokens, at most a quarter
   * of what is left, for this process, which grants later values from them at once,
   * without a call: only to the head of its queue (never ahead of a value waiting for Redis),
   * and only for `time` ms after the answer that brought them (and within `timeout` of that
   * call). The rest then goes back to Redis in one refund call and is never granted. So every
   * grant still spends tokens Redis took, and the window bound holds as without it: grants are
   * at most capacity + rate × (window + `timeout`) over any window. A lease is given back on
   * `configure`, `adapt`'s cap or pause, `returnLease()` and state loss, and dropped while Redis
   * fails (the count the local share continues already counts it as spent). `maxTokens`: an
   * integer >= 0, default `256` (0: off); `time`: ms, finite, > 0 and at most `timeout`, default
   * `20` (or `timeout` if smaller). `false`: no lease, one reserve call for every batch of values.
   */
  lease?: false | { maxTokens?: number; time?: number };
  /**
   * This process's clock and timers (for waiting out reservations and timeouts). Default:
   * `performance.now()` with `asyncScheduler` timers.
   */
  scheduler?: SchedulerLike;
}

/** How a bucket leases, checked: the most tokens one reserve call leases (0: off), and ms a leased token may wait. */
export interface LeaseSettings {
  readonly maxTokens: number;
  readonly time: number;
}

export interface CheckedOptions {
  readonly redis: RedisClient;
  readonly key: string;
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  readonly clock: StoreClock;
  readonly onStoreError: StoreErrorPolicy;
  readonly localShare: number;
  readonly timeout: number;
  readonly probeInterval: number;
  readonly maxInFlight: number;
  readonly lease: LeaseSettings;
}

const OWNER = 'RedisTokenBucket';
const OPTION_KEYS = [
  'redis',
  'key',
  'capacity',
  'refillRate',
  'interval',
  'keyPrefix',
  'clock',
  'onStoreError',
  'localShare',
  'timeout',
  'probeInterval',
  'maxInFlight',
  'lease',
  'scheduler',
] as const;

/** The lease by default: 256 tokens a call at most (one batch's worth), each granted within 20 ms. */
const LEASE_TOKENS = 256;
const LEASE_MS = 20;

/** Checks the `lease` option against `timeout` (a leased token is never granted later than an answer is accepted). */
function checkLease(lease: RedisTokenBucketOptions['lease'], timeout: number): LeaseSettings {
  if (lease === false) return { maxTokens: 0, time: LEASE_MS };
  if (lease === undefined) return { maxTokens: LEASE_TOKENS, time: Math.min(LEASE_MS, timeout) };
  if (typeof lease !== 'object' || lease === null) {
    throw new TypeError(
      `${OWNER} option "lease" must be false or { maxTokens, time }, got ${describe(lease)}; write e.g. lease: { maxTokens: 256, time: 20 }, or lease: false`,
    );
  }
  checkKnownKeys(`${OWNER} option "lease"`, lease, ['maxTokens', 'time']);
  const maxTokens = checkNumberOption(OWNER, 'lease.maxTokens', lease.maxTokens ?? LEASE_TOKENS, 'non-negative');
  if (!Number.isInteger(maxTokens) || maxTokens > 1e15) {
    throw new RangeError(
      `${OWNER} option "lease.maxTokens" must be an integer in [0, 1e15], got ${maxTokens}; write e.g. lease: { maxTokens: 256 } (0 or lease: false turns the lease off)`,
    );
  }
  const time = checkNumberOption(OWNER, 'lease.time', lease.time ?? Math.min(LEASE_MS, timeout), 'positive');
  if (time > timeout) {
    throw new RangeError(
      `${OWNER} option "lease.time" must be at most "timeout" (${timeout} ms), got ${time}; write e.g. lease: { time: ${Math.min(LEASE_MS, timeout)} }, or a longer timeout`,
    );
  }
  return { maxTokens, time };
}

/** Validates the options once; every error names the option and the value. */
export function checkRedisOptions(options: RedisTokenBucketOptions): CheckedOptions {
  checkKnownKeys(OWNER, options, OPTION_KEYS);
  const { redis } = options;
  if (typeof redis !== 'object' || redis === null || typeof redis.evalsha !== 'function' || typeof redis.eval !== 'function') {
    throw new TypeError(`${OWNER} option "redis" must be an ioredis client (Redis or Cluster), got ${describe(redis)}`);
  }
  if (typeof options.key !== 'string' || options.key === '') {
    throw new TypeError(`${OWNER} option "key" must be a non-empty string, got ${describe(options.key)}`);
  }
  const keyPrefix = options.keyPrefix ?? 'rtb:';
  if (typeof keyPrefix !== 'string') {
    throw new TypeError(`${OWNER} option "keyPrefix" must be a string, got ${describe(keyPrefix)}`);
  }
  const capacity = checkNumberOption(OWNER, 'capacity', options.capacity, 'positive');
  const refillRate = checkNumberOption(OWNER, 'refillRate', options.refillRate, 'positive');
  const interval = checkNumberOption(OWNER, 'interval', options.interval ?? 1000, 'positive');
  const clock = checkChoice(OWNER, 'clock', options.clock ?? 'server', ['server', 'client'] as const);
  const onStoreError = checkChoice(OWNER, 'onStoreError', options.onStoreError ?? 'fail-closed', [
    'fail-closed',
    'fail-open',
    'local',
  ] as const);
  const localShare = checkNumberOption(OWNER, 'localShare', options.localShare ?? 1, 'positive');
  if (localShare > 1) throw new RangeError(`${OWNER} option "localShare" must be in (0, 1], got ${localShare}`);
  if (options.localShare !== undefined && onStoreError !== 'local') {
    throw new TypeError(`${OWNER} option "localShare" applies to onStoreError "local", not ${describe(onStoreError)}`);
  }
  const timeout = checkNumberOption(OWNER, 'timeout', options.timeout ?? 1000, 'positive');
  const probeInterval = checkNumberOption(OWNER, 'probeInterval', options.probeInterval ?? 1000, 'non-negative');
  const maxInFlight = checkNumberOption(OWNER, 'maxInFlight', options.maxInFlight ?? 64, 'positive');
  if (!Number.isInteger(maxInFlight)) {
    throw new RangeError(`${OWNER} option "maxInFlight" must be an integer >= 1, got ${maxInFlight}`);
  }
  const lease = checkLease(options.lease, timeout);
  checkScheduler(OWNER, options.scheduler);
  checkRedisLimits(OWNER, { capacity, refillRate, interval });
  return {
    redis,
    key: `${keyPrefix}{${options.key}}`,
    capacity,
    refillRate,
    interval,
    clock,
    onStoreError,
    localShare,
    timeout,
    probeInterval,
    maxInFlight,
    lease,
  };
}
