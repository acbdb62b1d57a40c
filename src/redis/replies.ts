import { RedisStoreError } from './errors';

/** What every script answers first: the state's generation and base, the client clock's shift, and the count. */
export interface CountReply {
  /** The state's generation (it changes when the state was lost and created again). */
  readonly generation: string;
  /** The state's base, in whole seconds of the clock (the generation's). */
  readonly base: string;
  /** Client clock only: ms to move this client's clock by (0: it agrees with the stored clock). */
  readonly shift: number;
  /** µs from the server's now to the time `tokens` refers to: >= 0, and > 0 during a pause. */
  readonly ahead: number;
  /** Tokens (at most the capacity; negative while reservations are owed), as of `ahead` µs from now. */
  readonly tokens: number;
}

/** What the reserve script answered for one value of a batch. */
export interface ReserveAnswer {
  readonly granted: boolean;
  /** µs from the server's now until the reservation is due (0: granted now; for a refusal, the wait it would have had), >= 0. */
  readonly wait: number;
  /** When it is due, in µs since `base`, exactly as the server wrote it (a refund quotes it back). */
  readonly due: string;
}

/** The reserve script's reply: the count after the whole batch and the lease, the tokens leased, and each value's answer in order. */
export interface ReserveReply extends CountReply {
  /** Whole tokens taken now for this process to grant on its own (1..the lease asked for; absent: none). */
  readonly lease?: number;
  /** With a lease: the server's now, as the answer of a value granted at once, which a value granted from the lease holds. */
  readonly leaseAnswer?: ReserveAnswer;
  readonly answers: readonly ReserveAnswer[];
}

export interface RefundReply extends CountReply {
  /** Cost given back, and cost that could not be (both >= 0). */
  readonly returned: number;
  readonly forfeited: number;
}

/** One reservation to return: the generation, base and due of its reply, and its cost. */
export interface Reservation {
  readonly generation: string;
  readonly base: string;
  readonly due: string;
  readonly cost: number;
}

/** The fields every reply starts with: generation, shift, ahead, tokens. */
const HEADER = 4;
/** The fields of one value's answer in a reserve reply. */
const PER_ANSWER = 3;
/** The fields a reserve reply that leased ends with: tokens leased, the instant. */
const LEASE_FIELDS = 2;

/** Reads the reserve script's reply for a batch of `count` values that asked for a lease of at most `leaseMax` tokens. */
export function parseReserveReply(reply: unknown, key: string, capacity: number, count: number, leaseMax = 0): ReserveReply {
  const end = HEADER + PER_ANSWER * count;
  // A reply that leased ends with the lease and its instant; one that did not, with the last answer.
  const fields = new ReplyFields('reserve', key, reply, end, LEASE_FIELDS);
  const answers: ReserveAnswer[] = [];
  for (let i = HEADER; i < end; i += PER_ANSWER) {
    answers.push({ granted: fields.flag(i, 'granted'), wait: fields.number(i + 1, 'wait', 0), due: fields.numeral(i + 2, 'due') });
  }
  if (fields.length === end) return { ...readHeader(fields, capacity), answers };
  // Whole tokens, never more than asked for (a bad reply must not mint a lease).
  const lease = Math.min(Math.floor(fields.number(end, 'lease', 0)), leaseMax, capacity);
  const leaseAnswer = { granted: true, wait: 0, due: fields.numeral(end + 1, 'lease due') };
  return { ...readHeader(fields, capacity), lease, leaseAnswer, answers };
}

/** Reads the refund script's reply: the header, returned, forfeited. */
export function parseRefundReply(reply: unknown, key: string, capacity: number): RefundReply {
  const fields = new ReplyFields('refund', key, reply, HEADER + 2);
  return {
    ...readHeader(fields, capacity),
    returned: fields.number(HEADER, 'returned', 0),
    forfeited: fields.number(HEADER + 1, 'forfeited', 0),
  };
}

/** Reads the adjust script's reply: the header. */
export function parseAdjustReply(reply: unknown, key: string, capacity: number): CountReply {
  return readHeader(new ReplyFields('adjust', key, reply, HEADER), capacity);
}

/** Reads the settle script's reply (debit or refund): the header. */
export function parseSettleReply(reply: unknown, key: string, capacity: number): CountReply {
  return readHeader(new ReplyFields('settle', key, reply, HEADER), capacity);
}

/** The generation is the state's creation reading, `seconds.micros`: its whole seconds are the base. */
function readHeader(fields: ReplyFields, capacity: number): CountReply {
  const generation = fields.numeral(0, 'generation');
  return {
    generation,
    base: String(Math.floor(Number(generation))),
    shift: fields.number(1, 'shift') / 1000,
    ahead: fields.number(2, 'ahead', 0),
    tokens: Math.min(fields.number(3, 'tokens'), capacity),
  };
}

/**
 * A script's reply as `count` strings, read field by field: each number must be finite
 * and within its bounds, or the reply is refused with a `RedisStoreError` naming the key
 * and what came back, so a bad reply fails the call instead of leaking NaN into the
 * mirror ledger or a timer.
 */
class ReplyFields {
  private readonly fields: readonly unknown[];

  constructor(
    private readonly script: string,
    private readonly key: string,
    private readonly reply: unknown,
    count: number,
    /** Optional fields that may follow, all or none. */
    optional = 0,
  ) {
    if (!Array.isArray(reply) || (reply.length !== count && reply.length !== count + optional)) {
      throw this.malformed(`expected ${count} fields`); // (a reserve reply that leased has 2 more)
    }
    this.fields = reply; // read in place: ioredis already hands strings, so no copy per reply
  }

  get length(): number {
    return this.fields.length;
  }

  /** `'1'` or `'0'`. */
  flag(index: number, name: string): boolean {
    const text = this.text(index);
    if (text !== '1' && text !== '0') throw this.malformed(`"${name}" is ${JSON.stringify(text)}, not 1 or 0`);
    return text === '1';
  }

  /** A finite number >= `min`. */
  number(index: number, name: string, min = Number.NEGATIVE_INFINITY): number {
    const text = this.text(index);
    const value = text.trim() === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value)) throw this.malformed(`"${name}" is ${JSON.stringify(text)}, not a finite number`);
    if (value < min) throw this.malformed(`"${name}" is ${text}, below ${min}`);
    return value;
  }

  /** A finite number, kept as the server wrote it (to be quoted back exactly). */
  numeral(index: number, name: string): string {
    this.number(index, name);
    return this.text(index);
  }

  private text(index: number): string {
    const field = this.fields[index];
    return typeof field === 'string' ? field : String(field);
  }

  private malformed(what: string): RedisStoreError {
    return new RedisStoreError(
      `Redis gave a malformed reply to the ${this.script} script for key ${this.key}: ${what} (got ${shown(this.reply)})`,
      this.key,
    );
  }
}

/** A reply as text for an error message: JSON where possible, and never very long. */
function shown(reply: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(reply) ?? String(reply);
  } catch {
    text = String(reply);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
