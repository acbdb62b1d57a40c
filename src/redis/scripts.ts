import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  parseAdjustReply,
  parseRefundReply,
  parseReserveReply,
  parseSettleReply,
  type CountReply,
  type RefundReply,
  type Reservation,
  type ReserveReply,
} from './replies';

/** The user's ioredis client: a single server (`Redis`) or a cluster (`Cluster`). */
export type RedisClient = Redis | Cluster;

/**
 * The bucket's state is one hash per key, three fields (two more once a value is reserved ahead):
 * - `base`: whole seconds of the clock when the state was created. Every time below is in
 *   µs since `base`, which keeps it small enough for exact float arithmetic (an epoch in
 *   µs, ~1.7e15, has a float spacing of 0.25 µs).
 * - `ts`: the time `tokens` refers to. It never moves backwards; it is ahead of the clock
 *   during a pause (nothing is granted before it), after a refund deferred behind pending
 *   reservations (see the settle script), or when a client's clock is behind.
 * - `tokens`: the count at `ts`; negative while grants are reserved ahead, or after a debit
 *   (a debt that refill pays back first).
 * - `last`, `lastCost`: when the latest reservation made ahead falls due (µs since `base`),
 *   and the cost due then (several fall due together at the end of a pause). No reservation
 *   is pending after `last`, nor after the instant the count is paid back to zero; `lastCost`
 *   may overstate what is still due (a returned reservation leaves it as it was). Written by
 *   the reserve script, read by the settle script (a refund must not land beside them).
 * A `PEXPIRE` equal to the time to refill to full makes an idle key vanish exactly when it
 * would read as a full bucket anyway.
 *
 * Shared prologue: reads the clock (`TIME`, or the caller's reading in client-clock mode)
 * and the state, and brings the count to `at`: now, or `ts` when that is later.
 */
const PROLOGUE = `
-- Redis 3.2 to 4 refuse writes after TIME unless effects are replicated (the default from 5 on).
if redis.replicate_commands then redis.replicate_commands() end
local function fmt(x) return string.format('%.17g', x) end
-- Two instants computed apart are the same within float noise (and 1 ns).
local function same(a, b) return math.abs(a - b) <= 1e-3 + math.abs(b) * 1e-12 end
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock
if ARGV[3] == '' then clock = redis.call('TIME') else clock = {ARGV[3], ARGV[4]} end
-- TIME's microseconds are not zero-padded ("5" is 5 us): add the parts, never concatenate them.
local seconds = tonumber(clock[1])
local micros = tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'base', 'last', 'lastCost')
local tokens, ts, base = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local last, lastCost = tonumber(state[4]), tonumber(state[5])
local fresh = tokens == nil or ts == nil or base == nil
local now
if fresh then
  base = seconds
  now = micros
  tokens = capacity
  ts = now
  last = nil
else
  now = (seconds - base) * 1000000 + micros
end
-- A clock behind the stored time (a pause, another client's clock, a failover) mints nothing.
local at = now
if ts > at then at = ts end
if at > ts then tokens = tokens + (at - ts) * rate end
if tokens > capacity then tokens = capacity end
-- Writes the count at \`when\` (and any further field, value pairs) and the TTL.
local function save(count, when, ...)
  redis.call('HSET', KEYS[1], 'tokens', fmt(count), 'ts', fmt(when), 'base', fmt(base), ...)
  local ttl = math.ceil((when - now + (capacity - count) / rate) / 1000) + 1
  if ttl > 1e15 then ttl = 1e15 end
  redis.call('PEXPIRE', KEYS[1], fmt(ttl))
end
`;

/**
 * Reserve: takes `cost` now, or reserves it ahead when the wait is at most `maxWait`.
 * ARGV: capacity, tokens per µs, clock seconds, clock µs ('' '' for the server's TIME),
 * cost, longest acceptable wait in µs (-1: any).
 * Reply: granted (1/0), wait µs, due µs (since base), tokens after (at `at`; before, for a
 * refusal), base, µs from now to `at`. A refusal writes nothing: it debits nothing and
 * leaves the TTL alone.
 */
export const RESERVE_SCRIPT = `${PROLOGUE}
local cost = tonumber(ARGV[5])
local maxWait = tonumber(ARGV[6])
local after = tokens - cost
local wait = at - now
-- Tokens within capacity * 1e-12 of the cost count as present (float noise), as in TokenLedger.
if after < -capacity * 1e-12 then wait = wait - after / rate end
if maxWait >= 0 and wait > maxWait then
  return {0, fmt(wait), fmt(now + wait), fmt(tokens), fmt(base), fmt(at - now)}
end
if wait > 0 then
  local due = now + wait
  local dueCost = cost
  if last ~= nil and same(due, last) then dueCost = cost + (lastCost or 0) end
  save(after, at, 'last', fmt(due), 'lastCost', fmt(dueCost))
else
  save(after, at)
end
return {1, fmt(wait), fmt(now + wait), fmt(after), fmt(base), fmt(at - now)}
`;

/**
 * Refund: returns reservations abandoned before their time. ARGV: capacity, tokens per µs,
 * clock seconds, clock µs, then triples (base, due, cost), latest due first.
 * A reservation is returned only while it is the last one taken (its due time is when the
 * count is paid back to zero, or the end of a pause): returning one with later reservations
 * behind it would let a newcomer be granted beside them, beyond the burst. Those are
 * forfeited instead. Reply: cost returned, cost forfeited, tokens after, base, µs to `at`.
 */
export const REFUND_SCRIPT = `${PROLOGUE}
local returned, forfeited = 0, 0
for i = 5, #ARGV, 3 do
  local due = tonumber(ARGV[i + 1])
  local cost = tonumber(ARGV[i + 2])
  local paidOffAt = at
  if tokens < 0 then paidOffAt = at - tokens / rate end
  if fresh or tonumber(ARGV[i]) ~= base or due <= now then
    -- expired and recreated (so nothing is owed), or already due: nothing to return
  elseif same(paidOffAt, due) then
    tokens = tokens + cost
    returned = returned + cost
  else
    forfeited = forfeited + cost
  end
end
if returned > 0 then
  if tokens > capacity then tokens = capacity end
  save(tokens, at)
end
return {fmt(returned), fmt(forfeited), fmt(tokens), fmt(base), fmt(at - now)}
`;

/**
 * Adjust: lowers the count to at most `cap` tokens (never raises it), and pauses for `pause`
 * µs from now as `TokenLedger.pauseUntil` does: the bucket is emptied now (a debt stays),
 * refill goes on, and nothing is granted before the pause ends. A pause never cuts an
 * earlier, longer one short, and several clients reporting the same pause do not add up.
 * ARGV: capacity, tokens per µs, clock seconds, clock µs, cap ('' for none), pause µs.
 * Reply: tokens (at `at`), base, µs from now to `at`.
 */
export const ADJUST_SCRIPT = `${PROLOGUE}
local cap = tonumber(ARGV[5])
local pause = tonumber(ARGV[6])
if cap ~= nil and tokens > cap then tokens = cap end
if pause > 0 and now + pause > at then
  local resume = now + pause
  local countNow = tokens - (at - now) * rate
  local emptied = math.min(countNow, 0) + pause * rate
  local kept = tokens + (resume - at) * rate
  tokens = math.min(emptied, kept, capacity)
  at = resume
end
save(tokens, at)
return {fmt(tokens), fmt(base), fmt(at - now)}
`;

/**
 * Settle: takes `amount` tokens (a debit, `amount` > 0), into debt if need be, or gives
 * `-amount` back (a refund), never above capacity; at `at` (now, or the end of a pause) or
 * later, so `ts` never moves backwards. A debit simply lowers the count: refill pays it back
 * before any later reservation falls due, and the TTL grows with the debt, so the key cannot
 * vanish (forgiving the debt) before it is paid; reservations already made keep their times.
 * The count leaves out the reservations still pending, and a refund must not let a newcomer
 * be granted beside them beyond the burst: while some are pending (`last` is not past, and
 * the count is not paid off by now), it applies when the last of them falls due, after them,
 * up to `capacity - lastCost`. Nothing could be granted before that instant anyway, so `ts`
 * moves there, as during a pause. If `last` is later than the instant the count is paid off
 * (the latest were returned), it applies at that instant, paying back only debt (what falls
 * due then is unknown). With nothing pending, it applies now, paying a debt back first.
 * ARGV: capacity, tokens per µs, clock seconds, clock µs, amount (> 0 debit, < 0 refund).
 * Reply: tokens (at `at`), base, µs from now to `at`.
 */
export const SETTLE_SCRIPT = `${PROLOGUE}
local amount = tonumber(ARGV[5])
local room = capacity
local paidOffAt = at
if tokens < 0 then paidOffAt = at - tokens / rate end
if amount < 0 and paidOffAt > now and last ~= nil and last >= at then
  local due, dueCost = last, lastCost or capacity
  if last > paidOffAt and not same(last, paidOffAt) then due, dueCost = paidOffAt, capacity end
  tokens = tokens + (due - at) * rate
  at = due
  room = capacity - dueCost
end
local after = tokens - amount
if after > room then after = math.max(tokens, room) end
save(after, at)
return {fmt(after), fmt(base), fmt(at - now)}
`;

/** A Lua script with its SHA1, the name `EVALSHA` knows it by. */
interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function lua(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const RESERVE = lua(RESERVE_SCRIPT);
const REFUND = lua(REFUND_SCRIPT);
const ADJUST = lua(ADJUST_SCRIPT);
const SETTLE = lua(SETTLE_SCRIPT);

/** The clock argument pair: empty for the server's `TIME`, else whole seconds and µs. */
export type ClockReading = readonly [seconds: string, micros: string];
export const SERVER_CLOCK: ClockReading = ['', ''];

/** A reading of `epochMs` (ms since the Unix epoch) in the script's argument form. */
export function clockReading(epochMs: number): ClockReading {
  const seconds = Math.floor(epochMs / 1000);
  const micros = Math.min(999_999, Math.round((epochMs - seconds * 1000) * 1000));
  return [String(seconds), String(micros)];
}

/** The limits the scripts compute with: capacity and tokens per µs. */
export interface ScriptLimits {
  readonly capacity: number;
  readonly tokensPerMicro: number;
}

/**
 * Runs the bucket's scripts. Until a script is known to be loaded it is sent whole with
 * `EVAL` (which also loads it), then by its SHA1 with `EVALSHA`. A server that forgot it (a
 * restart, `SCRIPT FLUSH`, a failover) answers NOSCRIPT: that call is repeated with `EVAL`,
 * as are the next ones until one succeeds. `EVAL` goes to the node that holds the key, so
 * this works on a cluster too. Sending whole scripts first, rather than trying `EVALSHA`
 * and falling back, keeps calls in the order they were made (a fallback would overtake
 * nothing, but later calls would overtake it). Each reply is checked as it is read
 * (`replies.ts`): a malformed one rejects the call with a `RedisStoreError`.
 */
export class BucketScripts {
  private readonly loaded = new Set<LuaScript>();

  constructor(private readonly redis: RedisClient) {}

  reserve(key: string, limits: ScriptLimits, clock: ClockReading, cost: number, maxWaitMicros: number): Promise<ReserveReply> {
    const args = [String(cost), String(maxWaitMicros)];
    return this.run(RESERVE, key, limits, clock, args).then((reply) => parseReserveReply(reply, key, limits.capacity));
  }

  /** Returns `reservations`, which must be sorted latest due first. */
  refund(key: string, limits: ScriptLimits, clock: ClockReading, reservations: readonly Reservation[]): Promise<RefundReply> {
    const args: string[] = [];
    for (const { base, due, cost } of reservations) args.push(base, due, String(cost));
    return this.run(REFUND, key, limits, clock, args).then((reply) => parseRefundReply(reply, key, limits.capacity));
  }

  /** Lowers the count to at most `cap` (if given) and pauses grants for `pauseMicros`; returns the count after. */
  adjust(key: string, limits: ScriptLimits, clock: ClockReading, cap: number | undefined, pauseMicros: number): Promise<CountReply> {
    const args = [cap === undefined ? '' : String(cap), String(pauseMicros)];
    return this.run(ADJUST, key, limits, clock, args).then((reply) => parseAdjustReply(reply, key, limits.capacity));
  }

  /** Takes `amount` tokens (> 0, a debit, into debt if need be) or gives `-amount` back (< 0, a refund); returns the count after. */
  settle(key: string, limits: ScriptLimits, clock: ClockReading, amount: number): Promise<CountReply> {
    return this.run(SETTLE, key, limits, clock, [String(amount)]).then((reply) => parseSettleReply(reply, key, limits.capacity));
  }

  private run(script: LuaScript, key: string, limits: ScriptLimits, clock: ClockReading, rest: readonly string[]): Promise<unknown> {
    const args = [String(limits.capacity), String(limits.tokensPerMicro), clock[0], clock[1], ...rest];
    try {
      if (!this.loaded.has(script)) {
        return this.redis.eval(script.source, 1, key, ...args).then((reply) => {
          this.loaded.add(script);
          return reply;
        });
      }
      return this.redis.evalsha(script.sha, 1, key, ...args).catch((error: unknown) => {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        this.loaded.delete(script);
        return this.run(script, key, limits, clock, rest);
      });
    } catch (error) {
      return Promise.reject(error); // a client that throws rather than rejects
    }
  }
}
