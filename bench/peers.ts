/**
 * Peer libraries whose module shape needs care when loaded as ESM through tsx.
 */
import RxjsRateLimiterModule from 'rxjs-ratelimiter';

/**
 * rxjs-ratelimiter is CommonJS with `exports.default = RateLimiter`: Node's ESM loader hands
 * the whole `module.exports` over as the default import, so the class is one level down.
 */
export const RxjsRateLimiter: typeof RxjsRateLimiterModule =
  (RxjsRateLimiterModule as unknown as { default?: typeof RxjsRateLimiterModule }).default ?? RxjsRateLimiterModule;
