import type { RingMember } from '../../waiting/DeficitRoundRobin';
import type { HeapMember } from '../../waiting/KeyHeap';
import type { KeyedWaiter } from './KeyedLimiter';
import type { TokenLimiter } from '../TokenLimiter';
import { TokenLedger, type LedgerLimits } from '../../arithmetic/TokenLedger';
import { describe } from '../../shared/describe';
import type { WaitQueue, Waiter } from '../../waiting/WaitQueue';

/** Limits of the unused ledger of a key backed by a `TokenLimiter`. */
export const REMOTE_LEDGER: LedgerLimits = { capacity: 1, refillRate: 1, interval: 1 };

/**
 * One key held in memory: its bucket (the `TokenLedger` it extends, so a key is one object),
 * its FIFO of waiting values, and its place in the heaps and the round robin.
 */
export class KeyEntry<K> extends TokenLedger implements HeapMember, RingMember {
  heapIndex = -1;
  dueAt = 0;
  heapSeq = 0;
  ringNext: RingMember | null = null;
  ringPrev: RingMember | null = null;
  deficit = 0;
  turnStarted = false;
  /** Values waiting (for a limiter-backed key: those its limiter granted, now waiting for the global one). */
  queue: WaitQueue | null = null;
  /** Values of a limiter-backed key still waiting on that limiter, and their total cost. */
  tickets = 0;
  ticketCost = 0;
  constructor(
    readonly key: K,
    limits: LedgerLimits,
    now: number,
    /** The key's own store, when `bucketFor` returned a `TokenLimiter`. */
    readonly limiter: TokenLimiter | null,
  ) {
    super(limits, limits.capacity, now);
  }
}

/** What a `KeyTicket` reports to: the `KeyedBuckets` holding the key. */
export interface TicketOwner<K> {
  ticketGranted(ticket: KeyTicket<K>): void;
  ticketEnded(ticket: KeyTicket<K>, retryAfter: number, error: Error | null): void;
}

/** Marks a limiter-backed key's value as no longer waiting on its limiter. */
export function releaseTicket<K>(entry: KeyEntry<K>, waiter: KeyedWaiter<K>): void {
  waiter.keyedTicket = null;
  entry.tickets--;
  // Reset rather than subtract down to a float residue.
  entry.ticketCost = entry.tickets === 0 ? 0 : entry.ticketCost - waiter.cost;
}

/** A value of a limiter-backed key, waiting on that key's limiter. */
export class KeyTicket<K> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  readonly cost: number;
  constructor(
    readonly waiter: KeyedWaiter<K>,
    readonly entry: KeyEntry<K>,
    private readonly owner: TicketOwner<K>,
  ) {
    this.cost = waiter.cost;
  }
  granted(): void {
    this.owner.ticketGranted(this);
  }
  refused(retryAfter: number): void {
    this.owner.ticketEnded(this, retryAfter, null);
  }
  failed(error: Error): void {
    this.owner.ticketEnded(this, 0, error);
  }
}

/** The waiter behind `take()`. */
export class TakeWaiter<K> implements KeyedWaiter<K> {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  keyedTicket: Waiter | null = null;
  constructor(
    readonly key: K,
    readonly cost: number,
    private readonly subscriber: { next(): void; complete(): void; error(error: unknown): void },
  ) {}
  granted(): void {
    this.subscriber.next();
    this.subscriber.complete();
  }
  refused(retryAfter: number): void {
    this.subscriber.error(new RangeError(`KeyedBuckets: key ${describe(this.key)} refused (retry after ${retryAfter} ms)`));
  }
  failed(error: Error): void {
    this.subscriber.error(error);
  }
}
