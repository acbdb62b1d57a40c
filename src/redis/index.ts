export { RedisTokenBucket } from './RedisTokenBucket';
export type {
  RedisTokenBucketStats,
  RedisTokenBucketEvent,
  RedisGrantedEvent,
  GrantSource,
  StoreErrorEvent,
  StoreRecoveredEvent,
  RefundedEvent,
} from './events';
export type { RedisTokenBucketOptions, StoreErrorPolicy, StoreClock } from './options';
export { RedisStoreError } from './errors';
export type { RedisClient } from './scripts';
