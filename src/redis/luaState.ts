/**
 * The Lua every script of a Redis bucket starts with: the state's layout, the clock, the
 * checks at the boundary and the one write.
 *
 * The state is one hash per key:
 * - `base`: the clock reading when the state was created, `seconds.micros`: the state's
 *   generation. Its whole seconds are the base every time below counts from, in µs, which
 *   keeps times small enough for exact float arithmetic. A client that knew another
 *   generation lost the state it reserved in (FLUSHALL, a restart without persistence, a
 *   failover to a replica that missed writes): its call carries its estimate of the count
 *   into the new state (the carry: what it last heard, refilled since), so reservations
 *   made before the loss are not honoured on top of a fresh, full bucket.
 * - `ts`: the time `tokens` refers to. It never moves backwards; it is ahead of the clock
 *   during a pause, after a refund deferred behind pending reservations, or when a client's
 *   clock is behind.
 * - `tokens`: the count at `ts`; negative while grants are reserved ahead, or after a debit.
 * - `last`, `lastCost`: when the latest reservation made ahead falls due, and the cost due
 *   then. Written by the reserve script, read by the refund and settle scripts.
 * - `exp`: when the key is set to expire (µs since `base`): at least the time the count is
 *   full again, plus up to one more time to fill, so `PEXPIRE` is sent only when the expiry
 *   must move later, not on every call. An idle key vanishes once it would read as full anyway.
 * - `seen` (client clock only): the latest client reading accepted.
 *
 * ARGV, shared by every script: capacity, tokens per µs, clock seconds and µs ('' '' for the
 * server's `TIME`), the generation this client knows ('' for none), its estimate of the count
 * now (the carry), and '1' if the client's reading is not yet aligned with the stored clock.
 *
 * Client clock (`clock: 'client'`): a reading is trusted once its client has heard one reply.
 * An untrusted reading more than `CLIENT_CLOCK_LEAD_MS` ahead of `seen` moves nothing (it is
 * taken as `seen`); a reading more than that behind `seen` is raised to it (which mints
 * nothing: `ts` is never behind `seen`). Either way the reply's `shift` tells the client how
 * far to move its clock, so it joins the others' time instead of pushing them forward.
 *
 * Every number read from ARGV or the state, and every number written or answered, is
 * checked finite (a NaN is not equal to itself; ±math.huge are the infinities): a bad
 * argument fails the call before anything is written, and a corrupt state (from an older
 * version that stored "inf") is treated as absent.
 */
export const CLIENT_CLOCK_LEAD_MS = 250;

export const PROLOGUE = `
-- Redis 3.2 to 4 refuse writes after TIME unless effects are replicated (the default from 5 on).
if redis.replicate_commands then redis.replicate_commands() end
local HUGE = math.huge
local function finite(x) return x ~= nil and x == x and x ~= HUGE and x ~= -HUGE end
local function arg(i)
  local x = tonumber(ARGV[i])
  if x == nil or x ~= x or x == HUGE or x == -HUGE then error({err = 'ERR rtb: argument ' .. i .. ' is not a finite number'}) end
  return x
end
local format = string.format
local function fmt(x)
  if x ~= x or x == HUGE or x == -HUGE then error({err = 'ERR rtb: computed a non-finite number'}) end
  return format('%.17g', x)
end
-- Two instants computed apart are the same within float noise (and 1 ns).
local function same(a, b) return math.abs(a - b) <= 1e-3 + math.abs(b) * 1e-12 end
local capacity, rate = arg(1), arg(2)
local clientClock = ARGV[3] ~= ''
local clock
if clientClock then clock = {ARGV[3], ARGV[4]} else clock = redis.call('TIME') end
-- TIME's microseconds are not zero-padded ("5" is 5 us): add the parts, never concatenate them.
local seconds, micros
if clientClock then seconds, micros = arg(3), arg(4) else seconds, micros = tonumber(clock[1]), tonumber(clock[2]) end
local state
if clientClock then state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'base', 'last', 'lastCost', 'exp', 'seen')
else state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'base', 'last', 'lastCost', 'exp') end
-- \`base\` is the generation: the clock reading at creation; its whole seconds are the base.
local gen = state[3]
local tokens, ts, base = tonumber(state[1]), tonumber(state[2]), tonumber(gen)
local last, lastCost, exp, seen = tonumber(state[4]), tonumber(state[5]), tonumber(state[6]), tonumber(state[7])
local fresh = not (finite(tokens) and finite(ts) and finite(base))
local now
if fresh then
  base = seconds
  now = micros
  tokens = capacity
  ts = now
  gen = clock[1] .. '.' .. clock[2]
  last, lastCost, exp, seen = nil, nil, nil, nil
else
  base = math.floor(base)
  now = (seconds - base) * 1000000 + micros
  if not finite(last) then last = nil end
  if not finite(lastCost) then lastCost = nil end
  if not finite(exp) then exp = nil end
  if not finite(seen) then seen = nil end
end
local shift = 0
if clientClock and seen ~= nil then
  local lead = ${CLIENT_CLOCK_LEAD_MS * 1000}
  if (now > seen + lead and ARGV[7] == '1') or now < seen - lead then
    shift = seen - now
    now = seen
  end
end
local storedTs = ts
-- A clock behind the stored time (a pause, another client's clock, a failover) mints nothing.
local at = now
if ts > at then at = ts end
if at > ts then tokens = tokens + (at - ts) * rate end
if tokens > capacity then tokens = capacity end
-- The state this client reserved in is gone: the count is at most what it last heard, refilled.
local dirty = fresh
if ARGV[5] ~= '' and ARGV[5] ~= gen then
  local carry = tonumber(ARGV[6])
  if finite(carry) and carry < tokens then
    tokens = carry
    dirty = true
  end
end
-- Writes the count at \`when\` (and the latest reservation, if one was made ahead), only the
-- fields that changed, and moves the expiry only when it must be later. Returns the count as text.
local function save(count, when, dueAt, dueCost)
  local countText = fmt(count)
  local fields = {'tokens', countText}
  local n = 2
  if when ~= storedTs or fresh then fields[n + 1] = 'ts'; fields[n + 2] = fmt(when); n = n + 2 end
  if fresh then fields[n + 1] = 'base'; fields[n + 2] = gen; n = n + 2 end
  if dueAt ~= nil then
    fields[n + 1] = 'last'; fields[n + 2] = fmt(dueAt); fields[n + 3] = 'lastCost'; fields[n + 4] = fmt(dueCost); n = n + 4
  end
  if clientClock and (seen == nil or now > seen) then fields[n + 1] = 'seen'; fields[n + 2] = fmt(now); n = n + 2 end
  local full = when + (capacity - count) / rate
  local ttl
  if exp == nil or full > exp then
    local target = full + capacity / rate
    ttl = math.ceil((target - now) / 1000) + 1
    if ttl > 1e15 then ttl = 1e15; target = now + 1e18 end
    fields[n + 1] = 'exp'; fields[n + 2] = fmt(target)
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  if ttl ~= nil then redis.call('PEXPIRE', KEYS[1], fmt(ttl)) end
  return countText
end
-- Fills the reply's first four fields, for every script: generation, clock shift, µs to \`at\`, tokens.
local function header(reply, countText)
  reply[1] = gen
  if shift ~= 0 then reply[2] = fmt(shift) else reply[2] = '0' end
  if at > now then reply[3] = fmt(at - now) else reply[3] = '0' end
  reply[4] = countText
  return reply
end
`;
