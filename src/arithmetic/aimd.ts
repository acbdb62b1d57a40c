/**
 * Rate search for a server that says nothing about its limit but "429": additive increase,
 * multiplicative decrease (AIMD), with TCP's refinements. Pure: rates and times in, rates out.
 *
 * - Slow start: until the first throttle signal the rate grows by 2 % of itself per success,
 *   so a low first guess is corrected in seconds, not minutes; the first signal at least halves it.
 * - Decrease: a throttle signal sets a ceiling — the rate that was throttled, or, if lower, the
 *   rate the server has actually been admitting lately (a saturated server admits exactly its
 *   limit) — and cuts the rate to `decrease` times that ceiling, or to the share of recent
 *   requests the server admitted if that is lower. Signals for requests sent before the last
 *   decrease are echoes of the same overshoot and change nothing (one decrease per round trip).
 * - Increase: below 97 % of the ceiling the rate closes a twentieth of the gap per success, so it
 *   returns quickly to just under what the server refused; from there it probes upwards by
 *   `increase × ceiling` per success (additive, slow), so a server that raised its limit is
 *   found again, and one that did not throttles rarely.
 * Rates are in the bucket's unit (tokens per `interval` ms); successes count only when the
 * caller says the rate held the request back (a rate nobody runs into proves nothing).
 */
export interface AimdSettings {
  /** Multiplier on a throttle signal, in (0, 1]; 1 turns every decrease off. */
  readonly decrease: number;
  /** Probe step per success, as a share of the ceiling; 0 turns every increase (slow start too) off. */
  readonly increase: number;
  /** The unit of rates, in ms (the bucket's `interval`). */
  readonly interval: number;
}

const SLOW_START_GROWTH = 0.02;
const SLOW_START_EXIT = 0.5;
/** Share of the gap to the target closed per success. */
const APPROACH = 0.05;
/** Below the ceiling, the rate returns quickly to this share of it, then probes on slowly. */
const TARGET = 0.97;
/** Recent responses remembered, to see what share of them were refused. */
const OUTCOMES = 16;
/** Admissions remembered, and how far back (ms) they count, to measure what the server admits. */
const ADMISSIONS = 512;
const ADMISSION_WINDOW = 4000;

export class AimdRateSearch {
  /** The rate last throttled; 0 before any throttle signal (slow start). */
  private ceiling = 0;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** The last OUTCOMES responses as a ring: 1 refused, 0 admitted. */
  private readonly outcomes = new Uint8Array(OUTCOMES);
  private outcomeCount = 0;
  private refusedCount = 0;
  /** When admitted requests were answered, and their costs, as a ring. */
  private readonly admittedAt = new Float64Array(ADMISSIONS);
  private readonly admittedCost = new Float64Array(ADMISSIONS);
  private admittedCount = 0;
  private firstAdmissionAt = Number.NaN;

  constructor(private readonly settings: AimdSettings) {}

  /** Notes every response, whether it moves the rate or not. */
  recordOutcome(refused: boolean, cost: number, now: number): void {
    const slot = this.outcomeCount++ % OUTCOMES;
    this.refusedCount += (refused ? 1 : 0) - this.outcomes[slot]!;
    this.outcomes[slot] = refused ? 1 : 0;
    if (refused) return;
    if (Number.isNaN(this.firstAdmissionAt)) this.firstAdmissionAt = now;
    const admission = this.admittedCount++ % ADMISSIONS;
    this.admittedAt[admission] = now;
    this.admittedCost[admission] = cost;
  }

  /** The new rate after a success at `rate`. */
  afterSuccess(rate: number): number {
    if (this.settings.increase === 0) return rate;
    if (this.ceiling === 0) return rate * (1 + SLOW_START_GROWTH);
    const target = this.ceiling * TARGET;
    const probe = this.ceiling * this.settings.increase;
    if (rate < target) return Math.min(target, rate + (target - rate) * APPROACH + probe);
    return rate + probe;
  }

  /**
   * The new rate after a throttle signal for a request sent at `sentAt`, noticed at `now`
   * (one clock for all times); `rate` unchanged for an echo of an earlier signal.
   */
  afterThrottle(rate: number, sentAt: number, now: number): number {
    if (this.settings.decrease === 1 || sentAt < this.lastDecreaseAt) return rate;
    this.lastDecreaseAt = now;
    // Leaving slow start, the rate may be far above the limit: halve it at least, as TCP does.
    const factor = this.ceiling === 0 ? Math.min(SLOW_START_EXIT, this.settings.decrease) : this.settings.decrease;
    const admitted = this.admittedRate(now);
    this.ceiling = admitted !== undefined && admitted < rate ? admitted : rate;
    // Too few responses make the share a coin toss: use it once the ring is full.
    const admittedShare = this.outcomeCount < OUTCOMES ? 1 : 1 - this.refusedCount / OUTCOMES;
    return Math.min(this.ceiling * factor, rate * admittedShare);
  }

  /** Cost admitted per `interval` over the last few seconds, once a full second has been seen. */
  private admittedRate(now: number): number | undefined {
    const since = Math.max(now - ADMISSION_WINDOW, this.firstAdmissionAt);
    const span = now - since;
    if (!(span >= 1000)) return undefined;
    let cost = 0;
    const kept = Math.min(this.admittedCount, ADMISSIONS);
    for (let back = 1; back <= kept; back++) {
      const slot = (this.admittedCount - back) % ADMISSIONS;
      if (this.admittedAt[slot]! < since) break;
      cost += this.admittedCost[slot]!;
    }
    // A full ring means older admissions fell out: the measure is then a floor, not an estimate.
    if (kept === ADMISSIONS && this.admittedAt[this.admittedCount % ADMISSIONS]! >= since) return undefined;
    return (cost / span) * this.settings.interval;
  }
}
