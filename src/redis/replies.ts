import { RedisStoreError } from './errors';

/** A count as of `ahead` µs from the server's now (> 0 during a pause). */
export interface CountReply {
  /** Tokens (at most the capacity; negative while reservations are owed). */
  readonly tokens: number;
  /** µs from the server's now to the time `tokens` refers to: >= 0, and > 0 during a pause. */
  readonly ahead: number;
}

export interface ReserveReply extends CountReply {
  readonly granted: boolean;
  /** µs from the server's now until the reservation is due (0: granted now), >= 0. */
  readonly wait: number;
  /** When it is due, in µs since `base`, exactly as the server wrote it (a refund quotes it back). */
  readonly due: string;
  /** Tokens after the reservation (before it, for a refusal), as of `ahead` µs from the server's now. */
  readonly tokens: number;
  /** The state's base, in whole seconds of the clock, as the server wrote it. */
  readonly base: string;
}

export interface RefundReply extends CountReply {
  /** Cost given back, and cost that could not be (both >= 0). */
  readonly returned: number;
  readonly forfeited: number;
}

/** One reservation to return: the `base` and `due` strings of its reply, and its cost. */
export interface Reservation {
  readonly base: string;
  readonly due: string;
  readonly cost: number;
}

/** Reads the reserve script's reply: granted, wait, due, tokens, base, ahead. */
export function parseReserveReply(reply: unknown, key: string, capacity: number): ReserveReply {
  const fields = new ReplyFields('reserve', key, reply, 6);
  return {
    granted: fields.flag(0, 'granted'),
    wait: fields.number(1, 'wait', 0),
    due: fields.numeral(2, 'due'),
    tokens: Math.min(fields.number(3, 'tokens'), capacity),
    base: fields.numeral(4, 'base'),
    ahead: fields.number(5, 'ahead', 0),
  };
}

/** Reads the refund script's reply: returned, forfeited, tokens, base, ahead. */
export function parseRefundReply(reply: unknown, key: string, capacity: number): RefundReply {
  const fields = new ReplyFields('refund', key, reply, 5);
  const returned = fields.number(0, 'returned', 0);
  const forfeited = fields.number(1, 'forfeited', 0);
  const tokens = Math.min(fields.number(2, 'tokens'), capacity);
  fields.numeral(3, 'base');
  return { returned, forfeited, tokens, ahead: fields.number(4, 'ahead', 0) };
}

/** Reads the adjust script's reply: tokens, base, ahead. */
export function parseAdjustReply(reply: unknown, key: string, capacity: number): CountReply {
  return parseCountReply('adjust', reply, key, capacity);
}

/** Reads the settle script's reply (debit or refund): tokens, base, ahead. */
export function parseSettleReply(reply: unknown, key: string, capacity: number): CountReply {
  return parseCountReply('settle', reply, key, capacity);
}

function parseCountReply(script: string, reply: unknown, key: string, capacity: number): CountReply {
  const fields = new ReplyFields(script, key, reply, 3);
  const tokens = Math.min(fields.number(0, 'tokens'), capacity);
  fields.numeral(1, 'base');
  return { tokens, ahead: fields.number(2, 'ahead', 0) };
}

/**
 * A script's reply as `count` strings, read field by field: each number must be finite
 * and within its bounds, or the reply is refused with a `RedisStoreError` naming the key
 * and what came back, so a bad reply fails the call instead of leaking NaN into the
 * mirror ledger or a timer.
 */
class ReplyFields {
  private readonly fields: readonly string[];

  constructor(
    private readonly script: string,
    private readonly key: string,
    private readonly reply: unknown,
    count: number,
  ) {
    if (!Array.isArray(reply) || reply.length !== count) throw this.malformed(`expected ${count} fields`);
    this.fields = reply.map(String);
  }

  /** `'1'` or `'0'`. */
  flag(index: number, name: string): boolean {
    const text = this.fields[index]!;
    if (text !== '1' && text !== '0') throw this.malformed(`"${name}" is ${JSON.stringify(text)}, not 1 or 0`);
    return text === '1';
  }

  /** A finite number >= `min`. */
  number(index: number, name: string, min = Number.NEGATIVE_INFINITY): number {
    const text = this.fields[index]!;
    const value = text.trim() === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value)) throw this.malformed(`"${name}" is ${JSON.stringify(text)}, not a finite number`);
    if (value < min) throw this.malformed(`"${name}" is ${text}, below ${min}`);
    return value;
  }

  /** A finite number, kept as the server wrote it (to be quoted back exactly). */
  numeral(index: number, name: string): string {
    this.number(index, name);
    return this.fields[index]!;
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
