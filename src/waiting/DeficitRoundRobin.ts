import type { WaitQueue } from './WaitQueue';

/** What the round robin needs from a key: ring links, its deficit, its weight, and the queue whose head it serves. */
export interface RingMember {
  ringNext: RingMember | null;
  ringPrev: RingMember | null;
  /** Tokens this key may still take in its current turn (deficit round robin's counter). */
  deficit: number;
  /** Whether the quantum of the current visit has been credited. */
  turnStarted: boolean;
  /** Its share: each turn credits it `quantum × weight`. A finite number > 0; absent means 1. */
  readonly weight?: number;
  /** Ring members always have a head: the value asking for the shared tokens. */
  readonly queue: WaitQueue | null;
}

/** Deficits and costs within this fraction of a turn's credit count as equal: float sums of costs drift by ulps. */
const TOLERANCE = 1e-12;

/**
 * Weighted deficit round robin (Shreedhar & Varghese, 1995) over the keys contending for a
 * shared (global) bucket, by cost: each turn credits a key `quantum × weight` tokens, and it
 * is served while the cost of its head fits its deficit; then the next key's turn begins.
 * A key that stops contending (its queue emptied, or its own bucket ran dry) leaves the
 * ring and loses its deficit, so no key hoards credit. While keys stay backlogged, after
 * each of its turns a key has taken its credits minus less than one largest cost, so the
 * tokens taken per unit of weight of any two keys differ by less than
 * `quantum + largest cost / smaller weight`: shares in proportion to the weights, however
 * many or cheap the values of the others are. A key alone takes every token.
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
   * is empty. With every credit (`quantum × weight`) >= every cost this visits at most two
   * keys. With smaller ones, whole rounds in which no key could be served are computed, not
   * iterated.
   */
  pick(quantum: number): M | null {
    let ineligibleVisits = 0;
    for (let member = this.front; member !== null; member = this.front) {
      const credit = quantum * (member.weight ?? 1);
      if (!member.turnStarted) {
        member.deficit += credit;
        member.turnStarted = true;
      }
      if (headCost(member) <= member.deficit + credit * TOLERANCE) return member;
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
   * After a full round in which nobody could be served (credits below the costs), adds
   * at once the credit of the further `r - 1` barren rounds, where `r` is the fewest
   * rounds after which some member can be served: what iterating them would have done.
   */
  private skipBarrenRounds(quantum: number): void {
    const members = this.toArray();
    let fewestRounds = Infinity;
    for (const member of members) {
      const credit = quantum * (member.weight ?? 1);
      const rounds = Math.ceil((headCost(member) - member.deficit - credit * TOLERANCE) / credit);
      if (rounds < fewestRounds) fewestRounds = rounds;
    }
    if (!(fewestRounds > 1) || !Number.isFinite(fewestRounds)) return;
    for (const member of members) member.deficit += (fewestRounds - 1) * quantum * (member.weight ?? 1);
  }
}

function headCost(member: RingMember): number {
  return member.queue!.head!.cost;
}
