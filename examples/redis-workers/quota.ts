/**
 * The numbers the example's processes agree on: what the API admits, and the shared bucket
 * every worker spends from (the workers read them from here, so they cannot disagree).
 */

/** The API admits at most this many requests in any rolling second, and answers 429 beyond. */
export const API_LIMIT_PER_SECOND = 30;

/**
 * The shared bucket: a burst of 5, then 20 requests per second for all workers together.
 * The most it lets through in any second is 5 + 20 = 25, under the API's 30: the API meters
 * arrivals, not grants, and loopback or event-loop jitter can bunch requests granted apart,
 * so 5 requests (250 ms at the full rate) are kept in hand.
 */
export const SHARED_BUCKET = { capacity: 5, refillRate: 20 } as const;
