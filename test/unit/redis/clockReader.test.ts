/**
 * The client clock a Redis bucket sends with `clock: 'client'`: read from the wall clock once,
 * advanced by the monotonic clock (so a later step of the wall clock changes nothing), moved by
 * the shift a reply reports, once per shift (replies to calls sent before it are stale).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SERVER_CLOCK } from '../../../src/redis/scripts';
import { StoreClockReader } from '../../../src/redis/StoreClockReader';

const epochMs = (reading: readonly [string, string]) => Number(reading[0]) * 1000 + Number(reading[1]) / 1000;

describe('StoreClockReader', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("sends the server's TIME marker in server mode, and is never untrusted", () => {
    const reader = new StoreClockReader('server');
    expect(reader.read().reading).toBe(SERVER_CLOCK);
    expect(reader.untrusted).toBe(false);
    reader.heard(5000, 0);
    expect(reader.read().reading).toBe(SERVER_CLOCK);
  });

  it('ignores a step of the wall clock after construction', () => {
    const reader = new StoreClockReader('client');
    const before = epochMs(reader.read().reading);
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    const after = epochMs(reader.read().reading);
    expect(after - before).toBeGreaterThanOrEqual(0);
    expect(after - before).toBeLessThan(1000);
  });

  it('is untrusted until it hears a reply, and applies each shift once', () => {
    const reader = new StoreClockReader('client');
    expect(reader.untrusted).toBe(true);
    const first = reader.read();
    const second = reader.read(); // sent before the reply to the first came back
    reader.heard(-10_000, first.epoch);
    expect(reader.untrusted).toBe(false);
    reader.heard(-10_000, second.epoch); // the same skew, reported again by a stale call: not applied twice
    const now = epochMs(reader.read().reading);
    expect(Date.now() - now).toBeGreaterThan(9_000);
    expect(Date.now() - now).toBeLessThan(11_000);
  });
});
