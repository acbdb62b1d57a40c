import { expect } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import { RateLimitExceededError, type RefusalReason } from '../../../src/shared/errors';
import type { DiagramSetup } from '../diagramSetup';

/** README.md, "The three strategies": `capacity 3, refillRate 1 per 10 ms, cost 1`. */
const limits = { capacity: 3, refillRate: 1, interval: 10 };

/** What `onDrop` received in the latest run of the drop diagram. */
let drops: Array<[value: string, reason: RefusalReason]> = [];

const setups: Array<DiagramSetup & { readonly afterRun?: () => void }> = [
  {
    header: 'delay (default): shape the stream, every value waits its turn',
    operator: () => throttleByTokens(limits),
  },
  {
    header: 'drop: pass a value only if its tokens are there now',
    operator: () => {
      drops = [];
      return throttleByTokens(limits, { strategy: 'drop', onDrop: (value: string, reason) => drops.push([value, reason]) });
    },
    // The diagram's commentary: onDrop(d, 'no-tokens'), onDrop(e, …), onDrop(f, …).
    afterRun: () =>
      expect(drops).toEqual([
        ['d', 'no-tokens'],
        ['e', 'no-tokens'],
        ['f', 'no-tokens'],
      ]),
  },
  {
    header: 'error: like drop, but fail instead of discarding',
    operator: () => throttleByTokens(limits, { strategy: 'error' }),
    // The diagram's commentary: RateLimitExceededError { cost: 1, retryAfter: 10, reason: 'no-tokens' }.
    error: new RateLimitExceededError(10, 1, 'no-tokens'),
  },
  {
    header: 'priority: x is 1, the others 0; capacity 1, refill 1 token / 10 ms',
    operator: () =>
      throttleByTokens({ capacity: 1, refillRate: 1, interval: 10 }, { priority: (value: string) => (value === 'x' ? 1 : 0) }),
  },
];
export default setups;
