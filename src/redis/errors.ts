/**
 * Why a value could not be granted through Redis: the store did not answer in time,
 * refused the call, or (under `onStoreError: 'local'`) the value is too heavy for the local
 * share of the limit. `cause` holds the client's own error, when there was one.
 */
export class RedisStoreError extends Error {
  override readonly name = 'RedisStoreError';
  constructor(
    message: string,
    /** The Redis key of the bucket. */
    readonly key: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
