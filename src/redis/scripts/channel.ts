/** Lua scripts of channel history and fan-out: publish (offsets, epochs, exactly-once origins), recovery, rewind and keeping a subscribed channel alive (conventions in ./helpers.ts). */

import { helpers } from './helpers.js';

/**
 * KEYS: meta, log[, origin]. ARGV: data, now, size, ttl (whole numbers, checked before any
 * write), newEpoch, life, pubCommand,
 * pubChannel, originId, originRealTtl, originExpiresAt, knownEpoch, knownOffset, strict.
 * Returns {epoch, offset, duplicate} (duplicate 2: refused, the origin is an idempotency key
 * already used with another digest).
 *
 * `known` is the furthest position the calling node has seen on this channel. A head behind
 * it in the same epoch means the data went back (a failover to a lagging replica, a restore
 * of an older copy): the channel starts a new epoch instead of issuing those offsets again.
 *
 * The offset comes from HINCRBY on the channel's meta hash: strictly increasing per channel,
 * whichever node publishes. Stream ids are `<ms>-<seq>` from the publisher's clock, never
 * going back, so XTRIM MINID trims by age and XREVRANGE reads by age. The fan-out message is
 * published inside the script, so every node hears events in offset order. With an origin (a
 * client's publish id), a second publish of the same id in the same session returns the first
 * one's position instead of publishing again, whichever node it reaches. A strict origin (an
 * app's idempotency key, its id the body's digest) refuses a different digest instead.
 */
export const PUBLISH = `${helpers}
local meta, log, origin = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[2])
-- Checked before any write: a bad size or ttl failing at XADD would leave the head advanced
-- with no event stored.
for _, arg in ipairs({ARGV[3], ARGV[4]}) do
  if not string.match(arg, '^%d+$') or #arg > 15 then return redis.error_reply('ERR history size and ttl must be whole numbers from 0 to 15 digits, got ' .. arg) end
end
if origin then
  local mark = redis.call('GET', origin)
  if mark then
    local id, e, o, x = string.match(mark, '^(%S+) (%S+) (%d+) (%d+)$')
    if x and tonumber(x) >= now then
      if id == ARGV[9] then return {e, tonumber(o), 1} end
      if ARGV[14] == '1' then return {'', 0, 2} end
    end
  end
end
local epoch = current(meta, log, ARGV[5], ARGV[6], ARGV[12], ARGV[13])
local offset = redis.call('HINCRBY', meta, 'h', 1)
local size, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HSET', meta, 's', ARGV[3], 't', ARGV[4])
if size > 0 then
  local m, q = num(redis.call('HGET', meta, 'm'), 0), num(redis.call('HGET', meta, 'q'), 0)
  if now > m then m, q = now, 0 else q = q + 1 end
  local ms = string.format('%.0f', m)
  redis.call('HSET', meta, 'm', ms, 'q', q)
  redis.call('XADD', log, 'MAXLEN', '~', ARGV[3], ms .. '-' .. q, 'o', offset, 'd', ARGV[1])
  redis.call('XTRIM', log, 'MINID', '~', string.format('%.0f', math.max(0, now - ttl)))
  redis.call('PEXPIRE', log, ARGV[6])
else
  redis.call('DEL', log)
end
redis.call('PEXPIRE', meta, ARGV[6])
if origin then redis.call('SET', origin, ARGV[9] .. ' ' .. epoch .. ' ' .. offset .. ' ' .. ARGV[11], 'PX', ARGV[10]) end
if ARGV[7] ~= '' then redis.call(ARGV[7], ARGV[8], epoch .. ' ' .. offset .. ' ' .. ARGV[1]) end
return {epoch, offset, 0}
`;

/**
 * KEYS: meta, log. ARGV: sinceEpoch ('' for none), sinceOffset, limit, now, newEpoch, life,
 * knownEpoch ('' for none), knownOffset. A head behind `known` (what this node has seen) in its
 * epoch means the data went back: a new epoch starts, nobody recovers across it. A client's
 * `since` never does that (it is not trusted): it only fails its own recovery. Returns {epoch, head, recovered, entries newest first}. An unknown channel gets its epoch
 * here, so an empty channel and its first event share one history. The caller checks that the
 * entries are exactly the offsets after `since` (anything less is not a recovery).
 */
export const RECOVER = `${helpers}
local meta, log = KEYS[1], KEYS[2]
local since = tonumber(ARGV[2])
local epoch = current(meta, log, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
local head = tonumber(redis.call('HGET', meta, 'h'))
if ARGV[1] == '' then return {epoch, head, 1, {}} end
if ARGV[1] ~= epoch or since > head then return {epoch, head, 0, {}} end
local missed = head - since
if missed == 0 then return {epoch, head, 1, {}} end
local size, ttl = num(redis.call('HGET', meta, 's'), 0), num(redis.call('HGET', meta, 't'), 0)
if missed > tonumber(ARGV[3]) or missed > size then return {epoch, head, 0, {}} end
local oldest = string.format('%.0f', math.max(0, tonumber(ARGV[4]) - ttl))
return {epoch, head, 1, redis.call('XREVRANGE', log, '+', oldest, 'COUNT', missed)}
`;

/**
 * KEYS: meta, log. ARGV: count, now, max age ('' for none), new epoch, idle life. Returns
 * {epoch, head, entries newest first}: the newest `count` entries (at most the history size)
 * younger than the ttl and the max age.
 */
export const REWIND = `${helpers}
local meta, log = KEYS[1], KEYS[2]
-- A rewind reads what is there; a head gone back is caught by the next publish or recovery.
local epoch = current(meta, log, ARGV[4], ARGV[5], '', 0)
local head = tonumber(redis.call('HGET', meta, 'h'))
local size, ttl = num(redis.call('HGET', meta, 's'), 0), num(redis.call('HGET', meta, 't'), 0)
local count = math.min(tonumber(ARGV[1]), size)
if count <= 0 then return {epoch, head, {}} end
local age = ttl
if ARGV[3] ~= '' then age = math.min(ttl, tonumber(ARGV[3])) end
local oldest = string.format('%.0f', math.max(0, tonumber(ARGV[2]) - age))
return {epoch, head, redis.call('XREVRANGE', log, '+', oldest, 'COUNT', count)}
`;

/**
 * KEYS: meta, log. ARGV: idle life, backstop. A node still subscribed keeps a quiet channel's
 * history alive for max(idle life, history ttl + backstop); never shortens it.
 */
export const TOUCH_CHANNEL = `
local life = math.max(tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 't') or '0') + tonumber(ARGV[2]))
for _, k in ipairs(KEYS) do
  local left = redis.call('PTTL', k)
  if left >= 0 and left < life then redis.call('PEXPIRE', k, string.format('%.0f', life)) end
end
return 1
`;
