import type { WaitQueue } from './WaitQueue';

/** What the round robin needs from a key: ring links, its deficit, and the queue whose head it serves. */
export interface RingMember {
  ringNext: RingMember | null;
  ringPrev: RingMember | null;
  /** Tokens this key may still take in its current turn (deficit round robin's counter). */
  deficit: number;
  /** Whether the quantum of the current visit has been credited. */
  turnStarted: boolean;
  /** Ring members always have a head: the value asking for the shared tokens. */
  readonly queue: WaitQueue | null;
}

/** Deficits and costs within this fraction of the quantum count as equal: float sums of costs drift by ulps. */
const TOLERANCE = 1e-12;

/**
 * Deficit round robin (Shreedhar & Varghese, 1995) over the keys contending for a shared
 * (global) bucket, weighted by cost: each turn credits a key `quantum` tokens, and it is
 * served while the cost of its head fits its deficit; then the next key's turn begins.
 * A key that stops contending (its queue emptied, or its own bucket ran dry) leaves the
 * ring and loses its deficit, so no key hoards credit. Over any span in which keys stay
 * backlogged, each gets the same share of tokens within `quantum + largest cost`, however
 * many or cheap the values of the others are.
 *
 * Only one key is served at a time (the caller holds one outstanding request to the
 * shared bucket), so `pick` is called again only after the previous pick was granted or withdrawn.
 */
export class DeficitRoundRobin<M extends RingMember> {
  private front: M | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(member: M): boolean {
    return member.ringNext !== null;
  }

  /** Adds `member` at the back of the round, with no credit. */
  join(member: M): void {
    if (this.has(member)) return;
    member.deficit = 0;
    member.turnStarted = false;
    const front = this.front;
    if (front === null) {
      member.ringNext = member;
      member.ringPrev = member;
      this.front = member;
    } else {
      const back = front.ringPrev!;
      member.ringPrev = back;
      member.ringNext = front;
      back.ringNext = member;
      front.ringPrev = member;
    }
    this.count++;
  }

  /** Removes `member`; its unused credit is forfeited. */
  leave(member: M): void {
    if (!this.has(member)) return;
    if (this.count === 1) {
      this.front = null;
    } else {
      const previous = member.ringPrev!;
      const next = member.ringNext!;
      previous.ringNext = next;
      next.ringPrev = previous;
      if (this.front === member) this.front = next as M;
    }
    member.ringNext = null;
    member.ringPrev = null;
    member.deficit = 0;
    member.turnStarted = false;
    this.count--;
  }

  /**
   * The key whose head is served next, advancing the round as needed; null when the ring
   * is empty. With `quantum` >= every cost this visits at most two keys. With a smaller
   * quantum, whole rounds in which no key could be served are computed, not iterated.
   */
  pick(quantum: number): M | null {
    let ineligibleVisits = 0;
    for (let member = this.front; member !== null; member = this.front) {
      if (!member.turnStarted) {
        member.deficit += quantum;
        member.turnStarted = true;
      }
      if (headCost(member) <= member.deficit + quantum * TOLERANCE) return member;
      // Its turn is over; the deficit carries to its next turn.
      member.turnStarted = false;
      this.front = member.ringNext as M;
      if (++ineligibleVisits >= this.count) {
        this.skipBarrenRounds(quantum);
        ineligibleVisits = 0;
      }
    }
    return null;
  }

  /** Charges a grant to `member`'s current turn. */
  charge(member: M, cost: number): void {
    member.deficit -= cost;
  }

  /** The members, front first (a copy). */
  toArray(): M[] {
    const members: M[] = [];
    let member = this.front;
    for (let i = 0; i < this.count && member !== null; i++, member = member.ringNext as M) members.push(member);
    return members;
  }

  /**
   * After a full round in which nobody could be served (quantum below the costs), adds
   * at once the credit of the further `r - 1` barren rounds, where `r` is the fewest
   * rounds after which some member can be served: what iterating them would have done.
   */
  private skipBarrenRounds(quantum: number): void {
    let fewestRounds = Infinity;
    for (const member of this.toArray()) {
      const rounds = Math.ceil((headCost(member) - member.deficit - quantum * TOLERANCE) / quantum);
      if (rounds < fewestRounds) fewestRounds = rounds;
    }
    if (!(fewestRounds > 1) || !Number.isFinite(fewestRounds)) return;
    const credit = (fewestRounds - 1) * quantum;
    for (const member of this.toArray()) member.deficit += credit;
  }
}

function headCost(member: RingMember): number {
  return member.queue!.head!.cost;
}
