/**
 * Rate search for a server that says nothing about its limit but "429" (no rate-limit
 * headers): pure arithmetic, rates, costs and times in, rates out; bounded memory; every rate
 * it returns is finite and within [minRate, maxRate].
 *
 * - Slow start: until the first throttle signal the rate grows up to 2× per second while it
 *   holds requests back, up to `maxRate` (without headers the caller makes that the user's own
 *   rate unless the user set `maxRate`: no evidence, no increase).
 * - Decrease: a throttle signal measures the ceiling and cuts to `decrease` × it, or to the
 *   share of the last 16 answers admitted if lower. A refusal means the server's allowance was
 *   empty at that instant, so what it admitted between two refusals (at least 1 s apart) is
 *   its rate over that span, not inflated by a burst it had saved up: that drained measure is
 *   the ceiling. Without a refusal far enough back, the ceiling is the rate admitted over the
 *   last 4 s if lower than the rate throttled. Leaving slow start the measures still count the
 *   server's burst, so the rate is at least halved and the cut is the ceiling. Signals for
 *   requests sent before the last decrease are echoes of the same overshoot.
 * - A probe that finds more: when the 4 s measure stands well above the drained one at the end
 *   of a probe, the limit rose and the older refusals describe the old one: the ceiling is the
 *   4 s measure (within the rate throttled), and refusals before this one are forgotten.
 * - Hold, then probe: 1 s after a cut the rate returns (within the growth bound) to 97 % of the
 *   ceiling (the pause lets the server's allowance refill, so clients sharing it do not meet
 *   again at once), holds there `hold` ms, then climbs above it on a cubic, ceiling ×
 *   (0.97 + 0.05·s³) s seconds into the probe (CUBIC's convex phase: flat at first, then fast,
 *   so a raised limit is found in a few seconds and an unchanged one costs about one 429).
 *   `hold` starts at 4 s, grows 1.5× after each probe that found the limit where it was, up to
 *   8 s, and is back to 4 s once a throttle shows the limit moved (up or down).
 * - Sharing: a refusal while holding, at least 1 s after this flow's own cut, was caused by
 *   someone else's probe (or a drop): the limit looks shared, and the hold is longer by one
 *   `hold` per such sign (at most 4), one sign fewer after each of this flow's own probes. A
 *   flow starts with one sign (it may share the limit until its own first probe says
 *   otherwise). So flows sharing a limit probe it about as often together as one flow would.
 * - A throttle with a server pause (Retry-After) paces the recovery itself: the pause is the
 *   wait before climbing back (the 1 s wait does not apply), and the measures count the time
 *   paused, in which the server refilled and which the flow spends after it. So the drained
 *   measure is exact for a flow alone, and the cut is to it, not below (the pause has already
 *   let the allowance refill); but a refusal just after the flow's own pause measures mostly
 *   that pause, so one such signal takes the ceiling at most to half the rate. Sharing signs
 *   do not lengthen the hold after it: a refusal while holding after a pause cannot tell a
 *   neighbour's probe from a ceiling a little too high, and holding longer on a guess misses
 *   a rise.
 * In time, not in answers: a flow with more answers would probe more often and take more than
 * its share. Unlike AWS's CUBIC (which caps at 2× the measured send rate and returns to the
 * rate it was throttled at), the ceiling here is the admitted rate, and the hold keeps one
 * probe per `hold` instead of a 429 every few round trips. Rates are in the bucket's unit
 * (tokens per `interval` ms); the caller passes only successes the rate held back.
 */
export interface RateSearchSettings {
  /** Multiplier on a throttle signal, in (0, 1]; 1 turns every decrease off. */
  readonly decrease: number;
  /** Probe strength, as a share of the default (0.0002 = 1); 0 turns every increase (slow start too) off. */
  readonly increase: number;
  /** The unit of rates, in ms (the bucket's `interval`). */
  readonly interval: number;
  /** Bounds of every rate returned: minRate > 0, maxRate >= minRate (may be Infinity). */
  readonly minRate: number;
  readonly maxRate: number;
}

/** The `increase` that probes at the pace described above. */
export const DEFAULT_PROBE_INCREASE = 0.0002;
/** Leaving slow start the rate may be far above the limit: halve it at least, as TCP does. */
const SLOW_START_EXIT = 0.5;
/** Below the ceiling, the rate returns to this share of it. */
const HOLD = 0.97;
/** The hold before a probe, ms: from PROBE_AFTER, times PROBE_BACKOFF per probe that found the limit unchanged, up to PROBE_AFTER_MAX. */
export const PROBE_AFTER = 4000;
export const PROBE_AFTER_MAX = 8000;
const PROBE_BACKOFF = 1.5;
/** After a cut without a server pause, the rate stays where the cut left it this long, ms. */
export const CLIMB_BACK_AFTER = 1000;
/** A throttle with a server pause lowers the ceiling to at most this share of the rate at once. */
const PACED_MEASURE_FLOOR = 0.5;
/** Signs that the limit is shared (refusals while holding) counted at most; each lengthens the hold by one `hold`. */
const MAX_SHARED_SIGNS = 4;
/** The limit moved when a throttle's ceiling is this much above the last one, or this much below it. */
const FOUND_MORE = 1.1;
const LIMIT_DROPPED = 0.8;
/** A probe found a raised limit when the 4 s measure is this much above the drained one. */
const RAISED_LIMIT = 1.25;
/** The cubic's scale: the probe is ceiling × (1 + PROBE_CUBIC × s³), s seconds into it. */
const PROBE_CUBIC = 0.05;
/** At most this factor of growth per second of held-back requests (slow start's doubling too). */
const MAX_GROWTH_PER_SECOND = 2;
/** Recent responses remembered, to see what share of them were refused. */
const OUTCOMES = 16;
/** Admissions remembered, and how far back (ms) they count, to measure what the server admits. */
const ADMISSIONS = 512;
const ADMISSION_WINDOW = 4000;
/** Refusals remembered for the drained measure; the span it needs (ms) and how far back it may reach. */
const REFUSALS = 8;
const MIN_DRAINED_SPAN = 1000;
const MAX_DRAINED_SPAN = 60_000;

export class RateSearch {
  /** The rate last throttled (its estimate of the limit); 0 before any throttle signal (slow start). */
  private ceiling = 0;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private lastRaiseAt = Number.NaN;
  /** When the hold after the last decrease ended and the probe began (NaN: not yet). */
  private probeFrom = Number.NaN;
  private hold = PROBE_AFTER;
  /** Refusals while holding, not this flow's own probe's (0..MAX_SHARED_SIGNS); a flow starts assuming it may share the limit. */
  private sharedSigns = 1;
  /** The last throttle signal came with a server pause. */
  private paced = false;
  /** The last OUTCOMES responses as a ring: 1 refused, 0 admitted. */
  private readonly outcomes = new Uint8Array(OUTCOMES);
  private outcomeCount = 0;
  private refusedCount = 0;
  /** When admitted requests were answered, and their costs, as a ring. */
  private readonly admittedAt = new Float64Array(ADMISSIONS);
  private readonly admittedCost = new Float64Array(ADMISSIONS);
  private admittedCount = 0;
  private firstAdmissionAt = Number.NaN;
  /** All cost admitted so far; and at each of the last REFUSALS refusals, when and how much had been admitted. */
  private admittedTotal = 0;
  private readonly refusedAt = new Float64Array(REFUSALS);
  private readonly admittedBeforeRefusal = new Float64Array(REFUSALS);
  private refusalCount = 0;
  /** Refusals before this instant describe a limit that has since risen. */
  private refusalsFrom = Number.NEGATIVE_INFINITY;

  constructor(private readonly settings: RateSearchSettings) {}

  /** The ceiling found (the estimate of the server's limit), or undefined before any throttle signal. */
  get limitEstimate(): number | undefined {
    return this.ceiling > 0 ? this.ceiling : undefined;
  }

  /** Notes every response, whether it moves the rate or not. */
  recordOutcome(refused: boolean, cost: number, now: number): void {
    const slot = this.outcomeCount++ % OUTCOMES;
    this.refusedCount += (refused ? 1 : 0) - this.outcomes[slot]!;
    this.outcomes[slot] = refused ? 1 : 0;
    if (!Number.isFinite(now)) return;
    if (refused) {
      const refusal = this.refusalCount++ % REFUSALS;
      this.refusedAt[refusal] = now;
      this.admittedBeforeRefusal[refusal] = this.admittedTotal;
      return;
    }
    if (!(cost >= 0) || !Number.isFinite(cost)) return;
    if (Number.isNaN(this.firstAdmissionAt)) this.firstAdmissionAt = now;
    this.admittedTotal += cost;
    const admission = this.admittedCount++ % ADMISSIONS;
    this.admittedAt[admission] = now;
    this.admittedCost[admission] = cost;
  }

  /** The new rate after a success at `rate` that the rate held back, answered at `now`. */
  afterSuccess(rate: number, now: number): number {
    const current = this.clamp(rate);
    if (this.settings.increase === 0 || !Number.isFinite(now)) return current;
    if (!this.paced && now - this.lastDecreaseAt < CLIMB_BACK_AFTER) {
      this.lastRaiseAt = now; // the growth bound counts from the end of the wait
      return current;
    }
    const since = Number.isNaN(this.lastRaiseAt) ? 0 : Math.min(1000, Math.max(0, now - this.lastRaiseAt));
    this.lastRaiseAt = now;
    const most = current * MAX_GROWTH_PER_SECOND ** (since / 1000);
    const target = this.ceiling === 0 ? most : this.target(now);
    return this.clamp(Math.max(current, Math.min(most, target)));
  }

  /**
   * The new rate after a throttle signal for a request sent at `sentAt`, noticed at `now`
   * (one clock for all times); `rate` unchanged for an echo of an earlier signal. `paced`: the
   * server paused the flow with it (Retry-After).
   */
  afterThrottle(rate: number, sentAt: number, now: number, paced = false): number {
    const current = this.clamp(rate);
    if (this.settings.decrease === 1 || !(sentAt >= this.lastDecreaseAt) || !Number.isFinite(now)) return current;
    const leavingSlowStart = this.ceiling === 0;
    const probing = !Number.isNaN(this.probeFrom);
    const sinceDecrease = now - this.lastDecreaseAt;
    this.lastDecreaseAt = now;
    this.lastRaiseAt = now;
    this.paced = paced;
    const admitted = this.admittedRate(now);
    const drained = leavingSlowStart ? undefined : this.drainedRate(now);
    const previous = this.ceiling;
    let cut: number;
    if (drained !== undefined) {
      const raised = probing && admitted !== undefined && admitted > drained * RAISED_LIMIT;
      if (raised) this.refusalsFrom = now;
      // A paced span holds this flow's own pause: a refusal just after it measures mostly the pause.
      const measured = paced ? Math.max(drained, current * PACED_MEASURE_FLOOR) : drained;
      this.ceiling = this.clamp(raised ? Math.min(admitted, current) : measured);
      // The server's pause has already let its allowance refill: a paced cut is to the measure itself.
      cut = Math.min(current, this.ceiling) * (paced ? 1 : this.settings.decrease);
    } else {
      const factor = leavingSlowStart ? Math.min(SLOW_START_EXIT, this.settings.decrease) : this.settings.decrease;
      const measured = admitted !== undefined && admitted < current;
      cut = Math.min(measured ? admitted * this.settings.decrease : current, current * factor);
      // Leaving slow start the measure still counts the server's burst: the cut is the ceiling, the probe finds the rest.
      this.ceiling = this.clamp(measured && !leavingSlowStart ? admitted : cut);
    }
    // One's own probe ending takes a sign of sharing away; a refusal while holding, well after one's own cut, adds one.
    if (probing) this.sharedSigns = Math.max(0, this.sharedSigns - 1);
    else if (!leavingSlowStart && sinceDecrease >= CLIMB_BACK_AFTER) this.sharedSigns = Math.min(MAX_SHARED_SIGNS, this.sharedSigns + 1);
    // A limit that moved (up or down) may move again: probe soon. One a probe found where it
    // was is probed less and less often.
    const moved = this.ceiling > previous * FOUND_MORE || this.ceiling < previous * LIMIT_DROPPED;
    if (moved) this.hold = PROBE_AFTER;
    else if (probing) this.hold = Math.min(PROBE_AFTER_MAX, this.hold * PROBE_BACKOFF);
    this.probeFrom = Number.NaN;
    // Too few responses make the share a coin toss: use it once the ring is full.
    const admittedShare = this.outcomeCount < OUTCOMES ? 1 : 1 - this.refusedCount / OUTCOMES;
    return this.clamp(Math.min(cut, current * admittedShare));
  }

  /** Where the rate heads `now`, after the last decrease: back to HOLD × ceiling, then the cubic probe above it. */
  private target(now: number): number {
    if (Number.isNaN(this.probeFrom)) {
      const hold = this.paced ? this.hold : this.hold * (1 + this.sharedSigns);
      if (now - this.lastDecreaseAt < hold) return this.ceiling * HOLD;
      this.probeFrom = now;
    }
    const seconds = Math.max(0, now - this.probeFrom) / 1000;
    const strength = this.settings.increase / DEFAULT_PROBE_INCREASE;
    return this.ceiling * (HOLD + PROBE_CUBIC * strength * seconds ** 3);
  }

  /** Within [minRate, maxRate], and finite even when maxRate is Infinity (NaN reads as minRate). */
  private clamp(rate: number): number {
    const { minRate, maxRate } = this.settings;
    if (Number.isNaN(rate)) return minRate;
    return Math.min(maxRate, Number.MAX_VALUE, Math.max(minRate, rate));
  }

  /**
   * Cost admitted per `interval` over the last few seconds, once a full second has been seen.
   * A Retry-After pause inside the window counts as time: the server refilled during it, and
   * what it admits after the pause spends that refill.
   */
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

  /**
   * Cost admitted per `interval` since the latest refusal at least MIN_DRAINED_SPAN ago (the
   * server's allowance was empty then and is now), or undefined if there is none within
   * MAX_DRAINED_SPAN, after the limit was last seen to rise, among the last REFUSALS.
   */
  private drainedRate(now: number): number | undefined {
    const kept = Math.min(this.refusalCount, REFUSALS);
    for (let back = 1; back <= kept; back++) {
      const slot = (this.refusalCount - back) % REFUSALS;
      const at = this.refusedAt[slot]!;
      const span = now - at;
      if (at < this.refusalsFrom || span > MAX_DRAINED_SPAN) return undefined;
      if (span >= MIN_DRAINED_SPAN) return ((this.admittedTotal - this.admittedBeforeRefusal[slot]!) / span) * this.settings.interval;
    }
    return undefined;
  }
}
