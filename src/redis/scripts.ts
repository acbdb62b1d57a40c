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
import { PROLOGUE } from './luaState';

/** The user's ioredis client: a single server (`Redis`) or a cluster (`Cluster`). */
export type RedisClient = Redis | Cluster;

/** The most values one reserve call carries: bounds the script's reply and its run time. */
export const MAX_BATCH = 256;

/**
 * Reserve: asks for each of a batch of costs in order, as one call per value would: takes it
 * now, or reserves it ahead when the wait is at most its `maxWait`; then, if the bucket still
 * holds tokens now (no pause, nothing reserved ahead), leases whole tokens for the caller to
 * grant on its own (`Lease.ts`), at most a quarter of what is left. ARGV after the shared seven
 * (`luaState.ts`): the most tokens to lease (0: none), then runs of alike values as triples:
 * cost, longest acceptable wait in µs (-1: any), how many in a row. Reply: the header
 * (generation, shift, µs to `at`, tokens after batch and lease), per value granted (1/0), wait
 * µs, due µs since base ('0' if refused), then, only if it leased, the tokens and the instant
 * (µs since base). A refused value writes nothing; a call that grants and leases nothing
 * writes nothing, unless the state was created or carried.
 */
export const RESERVE_SCRIPT = `${PROLOGUE}
local after = tokens
local dueAt, dueCost = nil, nil
local granted = false
local reply = {}
local n = 4
local nowText = nil
local leaseMax = arg(8)
for i = 9, #ARGV, 3 do
  local cost = arg(i)
  local maxWait = arg(i + 1)
  local run = arg(i + 2)
  if run < 1 or run > ${MAX_BATCH} or run ~= math.floor(run) then error({err = 'ERR rtb: a run of ' .. run .. ' values'}) end
  for _ = 1, run do
    local left = after - cost
    local wait = at - now
    -- Tokens within capacity * 1e-12 of the cost count as present (float noise), as in TokenLedger.
    if left < -capacity * 1e-12 then wait = wait - left / rate end
    if maxWait >= 0 and wait > maxWait then
      reply[n + 1] = 0; reply[n + 2] = fmt(wait); reply[n + 3] = '0'
    else
      after = left
      granted = true
      if wait > 0 then
        local due = now + wait
        local previous, previousCost = last, lastCost
        if dueAt ~= nil then previous, previousCost = dueAt, dueCost end
        if previous ~= nil and same(due, previous) then dueCost = cost + (previousCost or 0) else dueCost = cost end
        dueAt = due
        reply[n + 1] = 1; reply[n + 2] = fmt(wait); reply[n + 3] = fmt(due)
      else
        if nowText == nil then nowText = fmt(now) end
        reply[n + 1] = 1; reply[n + 2] = '0'; reply[n + 3] = nowText
      end
    end
    n = n + 3
  end
end
-- Whole tokens the bucket holds now, beyond the batch; none while anything waits (a pause, a reservation ahead).
local lease = 0
if leaseMax > 0 and at <= now and dueAt == nil and after >= 4 then
  lease = math.floor(math.min(leaseMax, after / 4))
  after = after - lease
end
if lease > 0 then
  if nowText == nil then nowText = fmt(now) end
  reply[n + 1] = fmt(lease); reply[n + 2] = nowText
end
local countText
if granted or lease > 0 or dirty then countText = save(after, at, dueAt, dueCost) else countText = fmt(after) end
return header(reply, countText)
`;

/**
 * Refund: returns reservations abandoned before their time. ARGV after the shared seven:
 * triples (generation, due, cost), latest due first. The latest reservation of the state
 * (due when the count is paid back to zero) is returned at once. One with later reservations
 * behind it is returned as a refund while reservations are pending is (see the settle
 * script): at the instant the latest falls due, up to `capacity - lastCost`, so a newcomer
 * is never granted beside them beyond the burst. A reservation of another generation, or
 * already due, has nothing to return. Reply: the header, then cost returned, cost forfeited.
 */
export const REFUND_SCRIPT = `${PROLOGUE}
local returned, forfeited = 0, 0
for i = 8, #ARGV, 3 do
  local due = arg(i + 1)
  local cost = arg(i + 2)
  local paidOffAt = at
  if tokens < 0 then paidOffAt = at - tokens / rate end
  if fresh or ARGV[i] ~= gen or due <= now then
    -- recreated (so nothing is owed here), or already due: nothing to return
  elseif same(paidOffAt, due) then
    tokens = tokens + cost
    returned = returned + cost
  elseif last ~= nil and last >= at and paidOffAt > now then
    local latest, latestCost = last, lastCost or capacity
    if last > paidOffAt and not same(last, paidOffAt) then latest, latestCost = paidOffAt, capacity end
    tokens = tokens + (latest - at) * rate
    at = latest
    local room = capacity - latestCost
    local back = math.max(0, math.min(cost, room - tokens))
    tokens = tokens + back
    returned = returned + back
    forfeited = forfeited + cost - back
  else
    forfeited = forfeited + cost
  end
end
if tokens > capacity then tokens = capacity end
local countText
if returned > 0 or dirty then countText = save(tokens, at) else countText = fmt(tokens) end
return header({'', '', '', '', fmt(returned), fmt(forfeited)}, countText)
`;

/**
 * Adjust: lowers the count to at most `cap` tokens (never raises it), and pauses for `pause`
 * µs from now as `TokenLedger.pauseUntil` does: the bucket is emptied now (a debt stays),
 * refill goes on, and nothing is granted before the pause ends. A pause never cuts an
 * earlier, longer one short, and several clients reporting the same pause do not add up.
 * ARGV after the shared seven: cap ('' for none), pause µs. Reply: the header.
 */
export const ADJUST_SCRIPT = `${PROLOGUE}
local cap = tonumber(ARGV[8])
if cap ~= nil and not finite(cap) then cap = nil end
local pause = arg(9)
if cap ~= nil and tokens > cap then tokens = cap end
if pause > 0 and now + pause > at then
  local resume = now + pause
  local countNow = tokens - (at - now) * rate
  local emptied = math.min(countNow, 0) + pause * rate
  local kept = tokens + (resume - at) * rate
  tokens = math.min(emptied, kept, capacity)
  at = resume
end
return header({}, save(tokens, at))
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
 * ARGV after the shared seven: amount (> 0 debit, < 0 refund). Reply: the header.
 */
export const SETTLE_SCRIPT = `${PROLOGUE}
local amount = arg(8)
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
return header({}, save(after, at))
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

/** What a client passes to every script besides its own arguments (the shared seven ARGV of `luaState.ts`). */
export interface CallContext {
  readonly limits: ScriptLimits;
  readonly clock: ClockReading;
  /** The generation of the state this client last heard of ('' for none). */
  readonly generation: string;
  /** Its estimate of the count now, carried into a new generation if the state was lost. */
  readonly carry: number;
  /** Client clock only: the reading is not yet aligned with the stored clock (this client heard no reply yet). */
  readonly untrusted: boolean;
}

/** One value of a reserve batch: its cost and the longest wait it accepts, in µs (-1: any). */
export interface ReserveAsk {
  readonly cost: number;
  readonly maxWaitMicros: number;
}

/**
 * Runs the bucket's scripts. Until a script is known to be loaded it is sent whole with
 * `EVAL` (which also loads it), then by its SHA1 with `EVALSHA`. A server that forgot it (a
 * restart, `SCRIPT FLUSH`, a failover) answers NOSCRIPT: that call is repeated with `EVAL`,
 * as are the next ones until one succeeds. `EVAL` goes to the node that holds the key, so
 * this works on a cluster too. Sending whole scripts first, rather than trying `EVALSHA`
 * and falling back, keeps calls in the order they were made. Each reply is checked as it is
 * read (`replies.ts`): a malformed one rejects the call with a `RedisStoreError`.
 */
export class BucketScripts {
  private readonly loaded = new Set<LuaScript>();

  constructor(private readonly redis: RedisClient) {}

  /** Asks for each cost in order, in one call, and a lease of at most `leaseMax` tokens; answers each (at most `MAX_BATCH`). */
  reserve(key: string, context: CallContext, asks: readonly ReserveAsk[], leaseMax = 0): Promise<ReserveReply> {
    const args: string[] = [String(leaseMax)];
    let run = 0;
    for (let i = 0; i < asks.length; i++) {
      const { cost, maxWaitMicros } = asks[i]!;
      run++;
      const next = asks[i + 1];
      if (next !== undefined && next.cost === cost && next.maxWaitMicros === maxWaitMicros) continue;
      args.push(String(cost), String(maxWaitMicros), String(run));
      run = 0;
    }
    const capacity = context.limits.capacity;
    return this.run(RESERVE, key, context, args).then((reply) => parseReserveReply(reply, key, capacity, asks.length, leaseMax));
  }

  /** Returns `reservations`, which must be sorted latest due first. */
  refund(key: string, context: CallContext, reservations: readonly Reservation[]): Promise<RefundReply> {
    const args: string[] = [];
    for (const { generation, due, cost } of reservations) args.push(generation, due, String(cost));
    return this.run(REFUND, key, context, args).then((reply) => parseRefundReply(reply, key, context.limits.capacity));
  }

  /** Lowers the count to at most `cap` (if given) and pauses grants for `pauseMicros`; returns the count after. */
  adjust(key: string, context: CallContext, cap: number | undefined, pauseMicros: number): Promise<CountReply> {
    const args = [cap === undefined ? '' : String(cap), String(pauseMicros)];
    return this.run(ADJUST, key, context, args).then((reply) => parseAdjustReply(reply, key, context.limits.capacity));
  }

  /** Takes `amount` tokens (> 0, a debit, into debt if need be) or gives `-amount` back (< 0, a refund); returns the count after. */
  settle(key: string, context: CallContext, amount: number): Promise<CountReply> {
    return this.run(SETTLE, key, context, [String(amount)]).then((reply) => parseSettleReply(reply, key, context.limits.capacity));
  }

  private run(script: LuaScript, key: string, context: CallContext, rest: readonly string[]): Promise<unknown> {
    const { limits, clock } = context;
    const args = [
      String(limits.capacity),
      String(limits.tokensPerMicro),
      clock[0],
      clock[1],
      context.generation,
      String(context.carry),
      context.untrusted ? '1' : '0',
      ...rest,
    ];
    return this.runArgs(script, key, args);
  }

  private runArgs(script: LuaScript, key: string, args: readonly string[]): Promise<unknown> {
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
        return this.runArgs(script, key, args);
      });
    } catch (error) {
      return Promise.reject(error); // a client that throws rather than rejects
    }
  }
}
