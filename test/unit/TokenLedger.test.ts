import { describe, expect, it } from 'vitest';
import type { SchedulerLike } from 'rxjs';
import { TokenLedger } from '../../src/arithmetic/TokenLedger';
import { TokenBucket } from '../../src/limiters/TokenBucket';

const limits = (capacity: number, refillRate: number, interval: number) => ({ capacity, refillRate, interval });

describe('TokenLedger arithmetic', () => {
  it('refills continuously and lazily up to capacity', () => {
    const ledger = new TokenLedger(limits(10, 3, 100), 1, 1000);
    expect(ledger.tokensAt(1000)).toBe(1);
    expect(ledger.tokensAt(1050)).toBeCloseTo(2.5, 14);
    expect(ledger.tokensAt(1300)).toBeCloseTo(10, 14);
    expect(ledger.tokensAt(5000)).toBe(10);
  });

  it('tryTake takes when covered and changes nothing otherwise', () => {
    const ledger = new TokenLedger(limits(2, 1, 10), 2, 0);
    expect(ledger.tryTake(1.5, 0)).toBe(true);
    expect(ledger.tryTake(1, 0)).toBe(false);
    expect(ledger.tokensAt(0)).toBeCloseTo(0.5, 15);
    expect(ledger.tryTake(1, 4)).toBe(false);
    expect(ledger.tokensAt(4)).toBeCloseTo(0.9, 15);
    expect(ledger.tryTake(1, 5)).toBe(true);
    expect(ledger.tokensAt(5)).toBeCloseTo(0, 15);
  });

  it('absorbs float noise: 0.7 then 0.3 from 1 leaves exactly enough for nothing more, and 0 is always covered', () => {
    const ledger = new TokenLedger(limits(1, 1, 1000), 1, 0);
    expect(ledger.tryTake(0.7, 0)).toBe(true);
    expect(ledger.tryTake(0.3, 0)).toBe(true);
    expect(ledger.tryTake(0, 0)).toBe(true);
    expect(ledger.tryTake(1e-9, 0)).toBe(false);
    expect(ledger.timeUntil(0.1, 0)).toBe(100);
  });

  it('timeUntil is exact, and lands on the 1 µs grid when float noise is all that separates it', () => {
    const ledger = new TokenLedger(limits(3, 3, 10), 0, 0); // 0.3 token / ms
    expect(ledger.timeUntil(1, 0)).toBeCloseTo(10 / 3, 14); // not rounded up to 3.334
    expect(ledger.tryTake(1, ledger.timeUntil(1, 0))).toBe(true);
    expect(ledger.timeUntil(0.3, 0)).toBe(1);
    expect(ledger.timeUntil(0.9, 0)).toBe(3); // 0.9 / 0.3 = 3.0000000000000004 in floats
    const fractional = new TokenLedger(limits(1.5, 0.25, 2.5), 1.5, 0);
    fractional.tryTake(0.7, 0);
    fractional.tryTake(0.7, 0);
    expect(fractional.timeUntil(0.7, 0)).toBe(6);
    expect(fractional.tryTake(0.7, 6)).toBe(true);
  });

  it('timeUntil of more than capacity is the exact wait of the last of several queued values', () => {
    const ledger = new TokenLedger(limits(2, 1, 10), 0, 0);
    expect(ledger.timeUntil(5, 0)).toBe(50);
  });

  it('a deficit is never reported as no wait, and a tiny one waits one 1 µs step', () => {
    const ledger = new TokenLedger(limits(1, 1, 1), 0, 0); // 1 token / ms
    expect(ledger.timeUntil(0.0010000005, 0)).toBe(0.0010000005);
    expect(ledger.tryTake(0.0010000005, 0.001)).toBe(false);
    expect(ledger.timeUntil(0.0010000005, 0.001)).toBe(0.001); // 0.5 ns short: one step, not zero
    expect(ledger.tryTake(0.0010000005, 0.002)).toBe(true);
    expect(new TokenLedger(limits(1, 1, 1), 0, 0).timeUntil(5e-7, 0)).toBe(0.001);
  });

  it('timeUntil says 0 exactly when tryTake would grant, even on the float boundary of the slack', () => {
    const ledger = new TokenLedger(limits(1, 0.1, 5.0000000000001), 0, 0);
    const at = ledger.timeUntil(0.9999999999999999, 0);
    expect(ledger.tryTake(0.9999999999999999, at)).toBe(true);
    // Costs around the slack (1e-12), taken one after another at the same instant.
    for (const cost of [1.0001110223024625e-12, 5e-324, 1e-13, 1e-12, 2e-12, 0]) {
      const noWait = ledger.timeUntil(cost, at) === 0;
      expect(ledger.tryTake(cost, at), `cost ${cost}`).toBe(noWait);
    }
    // A debt just inside the slack: `tokens + slack < cost`, though `cost - tokens <= slack` in floats.
    const indebted = new TokenLedger(limits(1, 1, 1000), 0, 0);
    indebted.spend(7.761580503930294e-13, 0);
    expect(indebted.timeUntil(2.2384194960697061e-13, 0)).toBeGreaterThan(0);
    expect(indebted.tryTake(2.2384194960697061e-13, 0)).toBe(false);
  });

  it('long waits are exact, and so is their remainder after a capped timer', () => {
    const ledger = new TokenLedger(limits(1, 1, 3e9), 0, 0);
    expect(ledger.timeUntil(1, 0)).toBe(3e9);
    expect(ledger.tryTake(1, 2 ** 31 - 1)).toBe(false);
    expect(ledger.timeUntil(1, 2 ** 31 - 1)).toBe(3e9 - (2 ** 31 - 1));
    expect(ledger.tryTake(1, 3e9)).toBe(true);
  });

  it('a clock that goes backwards keeps the count and refills from the earlier reading', () => {
    const ledger = new TokenLedger(limits(10, 1, 10), 0, 1000);
    ledger.advance(1020);
    expect(ledger.tokensAt(1020)).toBeCloseTo(2, 14);
    ledger.advance(500);
    expect(ledger.tokensAt(500)).toBeCloseTo(2, 14);
    expect(ledger.tokensAt(480)).toBeCloseTo(2, 14); // further back: still nothing lost or minted
    expect(ledger.tryTake(2, 500)).toBe(true);
    expect(ledger.tokensAt(510)).toBeCloseTo(1, 14);
  });

  it('reconfigure credits the old rate up to now, then applies the new limits and clamps', () => {
    const ledger = new TokenLedger(limits(10, 1, 10), 0, 0);
    ledger.reconfigure(limits(10, 1, 1), 50); // 5 earned at 0.1 / ms, then 1 / ms
    expect(ledger.tokensAt(50)).toBeCloseTo(5, 14);
    expect(ledger.tokensAt(52)).toBeCloseTo(7, 14);
    ledger.reconfigure(limits(3, 1, 1), 52);
    expect(ledger.tokensAt(52)).toBe(3);
    expect([ledger.capacity, ledger.refillRate, ledger.interval]).toEqual([3, 1, 1]);
  });

  it('spend goes into debt that refill pays back first; setTokens clamps to capacity', () => {
    const ledger = new TokenLedger(limits(5, 1, 10), 1, 0);
    ledger.spend(3, 0);
    expect(ledger.tokensAt(0)).toBe(-2);
    expect(ledger.timeUntil(1, 0)).toBe(30);
    expect(ledger.tokensAt(20)).toBeCloseTo(0, 14);
    ledger.setTokens(99, 20);
    expect(ledger.tokensAt(20)).toBe(5);
  });
});

describe('drift: a million grant/refill cycles with fractional costs and rates', () => {
  // Tokens in units of 1e-4, so the exact count is integer arithmetic. Start 500 000 of capacity
  // 1 000 000, 0.07 token / ms, a step of 0.25 ms (0.0175 token) and costs averaging 0.0507:
  // a steady deficit that never reaches capacity, so nothing is ever clamped.
  const CYCLES = 1_000_000;
  const UNIT = 1e-4;
  const costUnits = [1000, 333, 170, 525];
  const refillUnitsPerStep = 175;
  const startUnits = 500_000 / UNIT;

  function exactUnitsAfter(cycles: number): bigint {
    let units = BigInt(startUnits);
    for (let i = 0; i < cycles; i++) units += BigInt(refillUnitsPerStep - costUnits[i % costUnits.length]!);
    return units;
  }

  it('TokenLedger stays within 1e-9 of the exact count', () => {
    const ledger = new TokenLedger(limits(1_000_000, 7, 100), 500_000, 0);
    const costs = costUnits.map((units) => units * UNIT);
    let refused = 0;
    for (let i = 0; i < CYCLES; i++) {
      if (!ledger.tryTake(costs[i % costs.length]!, (i + 1) * 0.25)) refused++;
    }
    expect(refused).toBe(0);
    const exact = Number(exactUnitsAfter(CYCLES)) * UNIT;
    expect(exact).toBeCloseTo(466_800, 6);
    expect(Math.abs(ledger.tokensAt(CYCLES * 0.25) - exact)).toBeLessThan(1e-9);
  });

  it('TokenBucket (tryTake on a settable clock) stays within 1e-9 of the exact count', () => {
    let now = 0;
    const clock: SchedulerLike = {
      now: () => now,
      schedule: () => {
        throw new Error('no timer is needed for tryTake');
      },
    };
    const bucket = new TokenBucket({ capacity: 1_000_000, refillRate: 7, interval: 100, initialTokens: 500_000, scheduler: clock });
    const costs = costUnits.map((units) => units * UNIT);
    let refused = 0;
    for (let i = 0; i < CYCLES; i++) {
      now = (i + 1) * 0.25;
      if (!bucket.tryTake(costs[i % costs.length]!)) refused++;
    }
    expect(refused).toBe(0);
    const exact = Number(exactUnitsAfter(CYCLES)) * UNIT;
    expect(Math.abs(bucket.available() - exact)).toBeLessThan(1e-9);
    expect(bucket.stats().granted).toBe(CYCLES);
  });
});
