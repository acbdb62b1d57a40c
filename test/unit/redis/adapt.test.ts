/**
 * `RedisTokenBucket.adapt` checks its feedback argument as `TokenBucket.adapt` does, before
 * anything reaches the mirror or Redis: not an object, or a number that is not finite >= 0,
 * throws naming `RedisTokenBucket adapt`, the field and the value, and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { RateLimitFeedback } from '../../../src/arithmetic/adaptation';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import type { RedisClient } from '../../../src/redis/scripts';

const GEN = '1700000000.0';

/** A client that answers every script with a bare count header, and lists the calls made. */
function recordingRedis() {
  const calls: string[][] = [];
  const answer = (_script: string, _n: number, _key: string, ...args: string[]) => {
    calls.push(args);
    return Promise.resolve([GEN, '0', '0', '5']);
  };
  return { client: { eval: answer, evalsha: answer } as unknown as RedisClient, calls };
}

function bucket() {
  const { client, calls } = recordingRedis();
  return { subject: new RedisTokenBucket({ redis: client, key: 'adapt', capacity: 5, refillRate: 20 }), calls };
}

describe('RedisTokenBucket.adapt', () => {
  const bad: [string, unknown, ErrorConstructor, string][] = [
    ['undefined', undefined, TypeError, 'RedisTokenBucket adapt: feedback must be an object'],
    ['null', null, TypeError, 'RedisTokenBucket adapt: feedback must be an object'],
    ['a number', 5, TypeError, 'RedisTokenBucket adapt: feedback must be an object'],
    ['NaN remaining', { remaining: Number.NaN }, RangeError, 'RedisTokenBucket adapt: feedback.remaining must be a finite number >= 0'],
    ['an infinite retryAfter', { retryAfter: Infinity }, RangeError, 'RedisTokenBucket adapt: feedback.retryAfter must be'],
    ['a negative limit', { limit: -1 }, RangeError, 'RedisTokenBucket adapt: feedback.limit must be'],
    ['a string resetAfter', { resetAfter: '10' }, TypeError, 'RedisTokenBucket adapt: feedback.resetAfter must be'],
  ];

  it.each(bad)('refuses %s, naming the owner and the field, and changes nothing', (_name, feedback, kind, message) => {
    const { subject, calls } = bucket();
    let thrown: unknown;
    try {
      subject.adapt(feedback as RateLimitFeedback);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(kind);
    expect((thrown as Error).message).toContain(message);
    expect(subject.refillRate).toBe(20);
    expect(subject.pausedUntil).toBe(Number.NEGATIVE_INFINITY);
    expect(subject.available()).toBe(5);
    expect(calls).toEqual([]);
  });

  it('refuses an unknown refill mode', () => {
    const { subject, calls } = bucket();
    expect(() => subject.adapt({ remaining: 1, refill: 'sometimes' } as unknown as RateLimitFeedback)).toThrow(/RedisTokenBucket adapt/);
    expect(calls).toEqual([]);
  });

  it('still takes good feedback: a Retry-After pauses the shared bucket through Redis', async () => {
    const { subject, calls } = bucket();
    subject.adapt({ retryAfter: 2000 });
    expect(subject.pausedUntil).toBeGreaterThan(Number.NEGATIVE_INFINITY);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toHaveLength(1);
  });
});
