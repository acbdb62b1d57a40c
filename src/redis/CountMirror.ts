import { TokenLedger, type LedgerLimits } from '../arithmetic/TokenLedger';
import type { CountReply } from './replies';
import type { StoreView } from './BucketStore';
import type { ScriptLimits } from './scripts';

/**
 * What this process last heard of the shared count, refilled since: the estimate behind
 * `available` and `timeUntil` (other processes spend too), kept with the limits this
 * process passes to the scripts and the generation of the state it heard it from. Other
 * processes only lower the count (or refund within it), so the estimate is an upper bound
 * of the true count: what a call carries into a new state if the old one was lost.
 */
export class CountMirror implements StoreView {
  private current: LedgerLimits;
  private heardGeneration = '';
  private tokensPerMicro: number;
  private readonly ledger: TokenLedger;

  constructor(limits: LedgerLimits, now: number) {
    this.current = { capacity: limits.capacity, refillRate: limits.refillRate, interval: limits.interval };
    this.tokensPerMicro = limits.refillRate / limits.interval / 1000;
    this.ledger = new TokenLedger(this.current, limits.capacity, now);
  }

  get limits(): LedgerLimits {
    return this.current;
  }

  /** The limits in the scripts' units: capacity and tokens per µs. */
  scriptLimits(): ScriptLimits {
    return { capacity: this.current.capacity, tokensPerMicro: this.tokensPerMicro };
  }

  /** The generation of the state last heard of ('' for none yet). */
  get generation(): string {
    return this.heardGeneration;
  }

  /** The count at `now`, as last heard and refilled since (negative while reservations are owed). */
  carry(now: number): number {
    return this.ledger.tokensAt(now);
  }

  /** Until when (scheduler clock) the shared bucket is paused, as far as this process knows, or -Infinity. */
  get pausedUntil(): number {
    return this.ledger.pausedUntil;
  }

  /** Tokens at `now`, 0..capacity. */
  available(now: number): number {
    return Math.max(0, this.ledger.tokensAt(now));
  }

  /** Ms from `now` until `cost` tokens would be there. */
  timeUntil(cost: number, now: number): number {
    return this.ledger.timeUntil(cost, now);
  }

  /** Takes new limits, already validated. */
  reconfigure(limits: LedgerLimits, now: number): void {
    this.current = limits;
    this.tokensPerMicro = limits.refillRate / limits.interval / 1000;
    this.ledger.reconfigure(limits, now);
  }

  /**
   * Mirrors a count Redis reported as of `ahead` µs from its now: during a pause that is the
   * count at the pause's end, refilled meanwhile, and nothing is granted before it.
   */
  heard({ tokens, ahead, generation }: CountReply, now: number): void {
    this.heardGeneration = generation;
    if (ahead <= 0) {
      this.ledger.setTokens(tokens, now);
      return;
    }
    this.ledger.setTokens(tokens - ahead * this.tokensPerMicro, now);
    this.ledger.pauseUntil(now + ahead / 1000, now);
  }

  /** Lowers the count to at most `tokens` (never raises it), before Redis answers. */
  cap(tokens: number, now: number): void {
    if (tokens < this.ledger.tokensAt(now)) this.ledger.setTokens(tokens, now);
  }

  /** Takes `amount` now, into debt if need be, before Redis answers. */
  spend(amount: number, now: number): void {
    this.ledger.spend(amount, now);
  }

  /** Gives `amount` back now (paying a debt first, never above capacity), before Redis answers. */
  refund(amount: number, now: number): void {
    this.ledger.refund(amount, now);
  }

  /** Tokens owed at `now`, as last reported and refilled since: debits and reservations made ahead. */
  debt(now: number): number {
    return this.ledger.debtAt(now);
  }

  /** Grants nothing before `until`, before Redis answers. */
  pauseUntil(until: number, now: number): void {
    this.ledger.pauseUntil(until, now);
  }
}
