import type { TokenLimiter } from '../TokenLimiter';
import { TokenLedger, type LedgerLimits } from '../../arithmetic/TokenLedger';
import type { Waiter } from '../../waiting/WaitQueue';

/** What a gate reports back to the `KeyedBuckets` that owns it. */
export interface GateClient {
  /** The outstanding request was granted: the global tokens are taken. */
  globalGranted(): void;
  /** The outstanding request can never be granted (e.g. the limiter's capacity shrank below it). */
  globalFailed(error: Error): void;
  /** The limiter refused the outstanding request (it is asked with no wait bound, so only a misbehaving store does). */
  globalRefused(retryAfter: number): void;
}

/**
 * The limit over all keys together, as `KeyedBuckets` sees it: it holds at most one
 * outstanding request, for the key that deficit round robin chose, and otherwise offers
 * a synchronous fast path for values that contend with nobody.
 */
export interface GlobalGate {
  readonly capacity: number;
  /** Whether a request is outstanding. */
  readonly pending: boolean;
  /** When the outstanding request can be granted by `poll` (Infinity if the answer comes by callback). */
  readonly dueAt: number;
  /** Takes `cost` now if no request is outstanding and the tokens are there; otherwise changes nothing. */
  takeNow(cost: number, now: number): boolean;
  /** Starts the one outstanding request. A limiter may grant it synchronously, through the client. */
  request(cost: number, now: number): void;
  /** Grants the outstanding request if it is covered at `now` (returns true), else re-aims `dueAt`. */
  poll(now: number): boolean;
  /** Withdraws the outstanding request; it takes nothing. */
  cancel(): void;
  /** A lower bound of the wait of a value of `cost` asking now. */
  timeUntil(cost: number, now: number): number;
  /** Tokens now, if the gate can tell synchronously. */
  available(now: number): number | undefined;
  limits(): Partial<LedgerLimits>;
}

/**
 * A global limit held in memory by the `KeyedBuckets` itself (given as options): its
 * deficit is served by the KeyedBuckets' single timer, so the whole structure still uses
 * at most one scheduled action.
 */
export class LedgerGate implements GlobalGate {
  private readonly ledger: TokenLedger;
  private pendingCost = -1;
  dueAt = Infinity;

  constructor(limits: LedgerLimits, initialTokens: number, now: number) {
    this.ledger = new TokenLedger(limits, initialTokens, now);
  }

  get capacity(): number {
    return this.ledger.capacity;
  }
  get pending(): boolean {
    return this.pendingCost >= 0;
  }

  takeNow(cost: number, now: number): boolean {
    return this.pendingCost < 0 && this.ledger.tryTake(cost, now);
  }

  request(cost: number, now: number): void {
    this.pendingCost = cost;
    this.dueAt = now + this.ledger.timeUntil(cost, now);
  }

  poll(now: number): boolean {
    const cost = this.pendingCost;
    if (cost < 0) return false;
    if (this.ledger.tryTake(cost, now)) {
      this.cancel();
      return true;
    }
    // A wait of 0 with the take refused is float noise at the slack's edge: look again 1 µs later.
    this.dueAt = now + Math.max(this.ledger.timeUntil(cost, now), 0.001);
    return false;
  }

  cancel(): void {
    this.pendingCost = -1;
    this.dueAt = Infinity;
  }

  timeUntil(cost: number, now: number): number {
    return this.ledger.timeUntil(cost + Math.max(this.pendingCost, 0), now);
  }

  available(now: number): number {
    return Math.max(0, this.ledger.tokensAt(now));
  }

  limits(): LedgerLimits {
    const { capacity, refillRate, interval } = this.ledger;
    return { capacity, refillRate, interval };
  }

  reconfigure(limits: LedgerLimits, now: number): void {
    this.ledger.reconfigure(limits, now);
    if (this.pending) this.dueAt = now + this.ledger.timeUntil(this.pendingCost, now);
  }
}

/**
 * A global limit that is any `TokenLimiter` (a `TokenBucket` shared with other pipes, a
 * store shared between processes), asked through the protocol: one `enqueue` at a time.
 */
export class LimiterGate implements GlobalGate {
  private current: GlobalRequest | null = null;
  readonly dueAt = Infinity;

  constructor(
    readonly limiter: TokenLimiter,
    private readonly client: GateClient,
  ) {}

  get capacity(): number {
    return this.limiter.capacity;
  }
  get pending(): boolean {
    return this.current !== null;
  }

  takeNow(cost: number): boolean {
    return this.current === null && this.limiter.takeNow(cost);
  }

  request(cost: number): void {
    const request = new GlobalRequest(cost, this);
    this.current = request;
    // Never refused for its wait: the key's value already waited its turn in the round robin.
    this.limiter.enqueue(request, Infinity);
  }

  poll(): boolean {
    return false;
  }

  cancel(): void {
    const request = this.current;
    if (request === null) return;
    this.current = null;
    this.limiter.cancel(request);
  }

  timeUntil(cost: number): number {
    return this.limiter.timeUntil(cost);
  }

  available(): undefined {
    return undefined;
  }

  limits(): Partial<LedgerLimits> {
    return { capacity: this.limiter.capacity };
  }

  /** Answers for a request that is no longer current (withdrawn) are ignored. */
  answer(request: GlobalRequest, outcome: 'granted' | 'refused' | 'failed', detail?: number | Error): void {
    if (request !== this.current) return;
    this.current = null;
    if (outcome === 'granted') this.client.globalGranted();
    else if (outcome === 'failed') this.client.globalFailed(detail as Error);
    else this.client.globalRefused(detail as number);
  }
}

/** The one outstanding request of a `LimiterGate`. */
class GlobalRequest implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    readonly cost: number,
    private readonly gate: LimiterGate,
  ) {}
  granted(): void {
    this.gate.answer(this, 'granted');
  }
  refused(retryAfter: number): void {
    this.gate.answer(this, 'refused', retryAfter);
  }
  failed(error: Error): void {
    this.gate.answer(this, 'failed', error);
  }
}
