import { DeficitRoundRobin } from '../../waiting/DeficitRoundRobin';
import type { Waiter } from '../../waiting/WaitQueue';
import type { CheckedBucketOptions } from '../bucketOptions';
import { isLimiter, type TokenLimiter } from '../TokenLimiter';
import { LedgerGate, LimiterGate, type GateClient, type GlobalGate } from './GlobalGate';
import type { KeyEntry, LocalKey } from './KeyEntries';
import type { KeyedActivity } from './KeyedActivity';

/** What the contention for the global tokens needs from the `KeyedBuckets` it serves. */
export interface ContentionOwner<K> {
  readonly clock: () => number;
  /** Puts a key where its state now says it belongs. */
  reposition(entry: KeyEntry<K>, now: number): void;
  /** Counts and reports grants. */
  readonly activity: KeyedActivity<K>;
  /** Grants what is due and re-aims the timer. */
  run(): void;
}

/**
 * Keys whose head their own bucket covers take turns for the global tokens by deficit round
 * robin, by cost and in proportion to each key's weight, with one outstanding request to the
 * global gate at a time: a value takes its key's tokens and the global ones at the same
 * instant, or neither.
 */
export class GlobalContention<K> implements GateClient {
  /** Keys whose head is covered by their own bucket, taking turns. */
  readonly ring = new DeficitRoundRobin<KeyEntry<K>>();
  /** The key whose head holds the gate's one outstanding request. */
  requesting: KeyEntry<K> | null = null;
  /** The head value the outstanding request is for. */
  private requestedHead: Waiter | null = null;

  /** The global limit: any `TokenLimiter` asked one request at a time, or a ledger held here. */
  readonly gate: GlobalGate;

  constructor(
    global: TokenLimiter | CheckedBucketOptions,
    private readonly quantum: number | undefined,
    private readonly owner: ContentionOwner<K>,
  ) {
    this.gate = isLimiter(global) ? new LimiterGate(global, this) : new LedgerGate(global, global.initialTokens, owner.clock());
  }

  /** Deficit round robin over the contending keys, one outstanding request at a time. */
  serve(): void {
    const { gate, owner } = this;
    for (;;) {
      if (this.requesting !== null) {
        if (!gate.poll(owner.clock())) return; // not covered yet, or the limiter answers later
        this.grantRequested();
        continue;
      }
      const entry = this.ring.pick(this.quantum ?? gate.capacity);
      if (entry === null) return;
      const head = entry.queue!.head!;
      if (head.cost > gate.capacity) {
        // The global capacity shrank below it since it arrived: it can never pass.
        entry.queue!.remove(head);
        owner.reposition(entry, owner.clock());
        head.failed(new RangeError(`cost ${head.cost} exceeds the global capacity ${gate.capacity}`));
        continue;
      }
      this.requesting = entry;
      this.requestedHead = head;
      gate.request(head.cost, owner.clock()); // a limiter may grant at once, through globalGranted
    }
  }

  /**
   * The fast path of a key contending with nobody: takes `cost` of its own tokens and of the
   * global ones at the same instant, or neither (returns false, having changed nothing).
   */
  takeAlone(entry: LocalKey<K>, cost: number, now: number): boolean {
    if (this.ring.size !== 0 || entry.timeUntil(cost, now) !== 0 || !this.gate.takeNow(cost, now)) return false;
    if (!entry.tryTake(cost, now)) entry.spend(cost, now); // covered a moment ago: never charge one side only
    return true;
  }

  /** Withdraws the outstanding request (its key's head left, or no longer covers itself). */
  withdrawRequest(): void {
    this.requesting = null;
    this.requestedHead = null;
    this.gate.cancel();
  }

  /**
   * Withdraws `entry`'s request if its head is no longer the value it was made for (that value
   * left, failed, or a higher priority went ahead of it): the next round asks for the new head.
   */
  keepRequestFor(entry: KeyEntry<K>, head: Waiter | null): void {
    if (this.requesting === entry && this.requestedHead !== head) this.withdrawRequest();
  }

  /** Leaves the round for a key that stopped contending, withdrawing its request if it held it. */
  leave(entry: KeyEntry<K>): void {
    if (this.requesting === entry) this.withdrawRequest();
    this.ring.leave(entry);
  }

  // ---- answers of the global gate ----

  globalGranted(): void {
    if (this.requesting === null) return;
    this.grantRequested();
    this.owner.run();
  }

  globalFailed(error: Error): void {
    this.dropRequestedHead()?.failed(error);
    this.owner.run();
  }

  globalRefused(retryAfter: number): void {
    this.dropRequestedHead()?.refused(retryAfter);
    this.owner.run();
  }

  /** The global tokens of the requesting key's head are taken: take its own at the same instant, and emit. */
  private grantRequested(): void {
    const entry = this.requesting!;
    this.requesting = null;
    this.requestedHead = null;
    const head = entry.queue!.head!;
    const now = this.owner.clock();
    // Its own tokens covered the head when it asked and only grew since (configure withdraws
    // the request otherwise); `spend` keeps the pair atomic even against float noise.
    if (!entry.remote && !entry.tryTake(head.cost, now)) entry.spend(head.cost, now);
    entry.queue!.remove(head);
    this.ring.charge(entry, head.cost);
    this.owner.activity.granted(entry, head.cost, now - head.queuedAt, now);
    this.owner.reposition(entry, now);
    head.granted();
  }

  private dropRequestedHead(): Waiter | null {
    const entry = this.requesting;
    if (entry === null) return null;
    this.requesting = null;
    this.requestedHead = null;
    const head = entry.queue!.head!;
    entry.queue!.remove(head);
    this.owner.reposition(entry, this.owner.clock());
    return head;
  }
}
