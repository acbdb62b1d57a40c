import { TokenLedger, type LedgerLimits } from '../../arithmetic/TokenLedger';
import type { RingMember } from '../../waiting/DeficitRoundRobin';
import type { HeapMember } from '../../waiting/KeyHeap';
import type { WaitQueue, Waiter } from '../../waiting/WaitQueue';
import type { TokenLimiter } from '../TokenLimiter';
import type { KeyedWaiter } from './KeyedLimiter';

/**
 * A key held in memory whose bucket is in memory too: the `TokenLedger` it extends (so a key
 * is one object), its queue of waiting values, its place in the heaps and the round robin,
 * and its weight there (read once, when the key is created).
 */
export class LocalKey<K> extends TokenLedger implements HeapMember, RingMember {
  readonly remote = false as const;
  heapIndex = -1;
  dueAt = 0;
  heapSeq = 0;
  ringNext: RingMember | null = null;
  ringPrev: RingMember | null = null;
  deficit = 0;
  turnStarted = false;
  /** Values waiting for this key's tokens (and the global ones); null while idle. */
  queue: WaitQueue | null = null;
  constructor(
    readonly key: K,
    limits: LedgerLimits,
    now: number,
    /** Its share of the global tokens (`KeyedBucketsOptions.weight`). */
    readonly weight: number,
  ) {
    super(limits, limits.capacity, now);
  }
}

/**
 * A key whose bucket is a `TokenLimiter` of its own (`bucketFor` returned one: a Redis bucket,
 * say). It is held only while something of it waits: first on its limiter (tickets), then,
 * under a global limit, for the global tokens (its queue).
 */
export class RemoteKey<K> implements RingMember {
  readonly remote = true as const;
  ringNext: RingMember | null = null;
  ringPrev: RingMember | null = null;
  deficit = 0;
  turnStarted = false;
  /** Values its limiter granted, now waiting for the global tokens. */
  queue: WaitQueue | null = null;
  /** Values still waiting on its limiter, and their total cost. */
  tickets = 0;
  ticketCost = 0;
  constructor(
    readonly key: K,
    readonly limiter: TokenLimiter,
    /** Its share of the global tokens (`KeyedBucketsOptions.weight`). */
    readonly weight: number,
  ) {}
  get capacity(): number {
    return this.limiter.capacity;
  }
}

/** One key held in memory. */
export type KeyEntry<K> = LocalKey<K> | RemoteKey<K>;

/** What a `KeyTicket` reports to: the `KeyedBuckets` holding the key. */
export interface TicketOwner<K> {
  ticketGranted(ticket: KeyTicket<K>): void;
  ticketEnded(ticket: KeyTicket<K>, retryAfter: number, error: Error | null): void;
}

/** A value of a `RemoteKey`, waiting on that key's limiter (the value's own links stay free for the global round). */
export class KeyTicket<K> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  readonly cost: number;
  /** The value's priority, so the key's limiter orders its tickets as the key's own queue would. */
  readonly priority: number;
  constructor(
    readonly waiter: KeyedWaiter<K>,
    readonly entry: RemoteKey<K>,
    private readonly owner: TicketOwner<K>,
  ) {
    this.cost = waiter.cost;
    this.priority = waiter.priority ?? 0;
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

/** Hands `waiter` to its key's limiter, counting it as a ticket of the key. */
export function holdTicket<K>(entry: RemoteKey<K>, waiter: KeyedWaiter<K>, owner: TicketOwner<K>, now: number): KeyTicket<K> {
  const ticket = new KeyTicket(waiter, entry, owner);
  waiter.keyedTicket = ticket;
  entry.tickets++;
  entry.ticketCost += waiter.cost;
  ticket.queuedAt = now;
  return ticket;
}

/** Marks a value of a remote key as no longer waiting on that key's limiter. */
export function releaseTicket<K>(entry: RemoteKey<K>, waiter: KeyedWaiter<K>): void {
  waiter.keyedTicket = null;
  entry.tickets--;
  // Reset rather than subtract down to a float residue.
  entry.ticketCost = entry.tickets === 0 ? 0 : entry.ticketCost - waiter.cost;
}
