/** Lua scripts of sessions: their records, reply windows, the index of a user's sessions and request claims (conventions in ./helpers.ts). */

import { helpers } from './helpers.js';

/**
 * KEYS: session, replies, outboxMeta, outbox. ARGV: user, acked, floor, now, expiresAt ('inf'
 * or ms), realTtl, sentSeq (seqs at or below it are never issued again), owner ('' keeps the
 * stored one), secret digest ('' keeps the stored one), anonymous ('1' or '0', with the secret),
 * generation ('' keeps the stored one), then id, reply pairs. Returns 0, having changed nothing,
 * when a live record's generation `g` is above the given one (a newer hello saved it), else 1.
 * A live stored window with a higher or equal `acked` is kept (a later save may carry an older
 * view); the outbox lives at least as long as its session.
 */
export const SAVE_SESSION = `${helpers}
local h, z, om, o = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[4])
local live = alive(redis.call('HGET', h, 'x'), now)
if live and ARGV[11] ~= '' and num(redis.call('HGET', h, 'g'), 0) > tonumber(ARGV[11]) then return 0 end
local keep = false
if live then keep = num(redis.call('HGET', h, 'a'), 0) >= tonumber(ARGV[2]) end
if not keep then
  redis.call('DEL', z)
  redis.call('HSET', h, 'a', ARGV[2], 'f', ARGV[3])
  for i = 12, #ARGV, 2 do redis.call('ZADD', z, ARGV[i], ARGV[i] .. ':' .. ARGV[i + 1]) end
end
redis.call('HSET', h, 'u', ARGV[1], 'x', ARGV[5])
if ARGV[9] ~= '' then redis.call('HSET', h, 'k', ARGV[9], 'n', ARGV[10]) end
raiseSeq(h, om, ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', h, 'w', ARGV[8]) end
if ARGV[11] ~= '' then redis.call('HSET', h, 'g', ARGV[11]) elseif not live then redis.call('HDEL', h, 'g') end
if ARGV[5] == 'inf' then
  redis.call('HSET', om, 'x', 'inf')
  for _, k in ipairs(KEYS) do redis.call('PERSIST', k) end
  return 1
end
local ox = redis.call('HGET', om, 'x')
if not ox or ox == 'inf' or tonumber(ox) < tonumber(ARGV[5]) then redis.call('HSET', om, 'x', ARGV[5]) end
redis.call('PEXPIRE', h, ARGV[6])
if redis.call('EXISTS', z) == 1 then redis.call('PEXPIRE', z, ARGV[6]) end
extend(om, ARGV[6])
if redis.call('EXISTS', o) == 1 then extend(o, ARGV[6]) end
return 1
`;

/**
 * KEYS: session, replies, outboxMeta, outbox. ARGV: now, expiresAt, realTtl, lastSeq (the last
 * direct message the calling node heard for it, '0' for none). Extends a live session (never
 * shortens it) and raises its outbox's seq to lastSeq; returns {user JSON, expiresAt}, or false
 * when it is gone.
 */
export const TOUCH_SESSION = `${helpers}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local x = redis.call('HGET', h, 'x')
if not alive(x, now) then return false end
if x ~= 'inf' and tonumber(x) < tonumber(ARGV[2]) then
  redis.call('HSET', h, 'x', ARGV[2])
  for _, k in ipairs(KEYS) do extend(k, ARGV[3]) end
  local ox = redis.call('HGET', KEYS[3], 'x')
  if ox and ox ~= 'inf' and tonumber(ox) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[3], 'x', ARGV[2]) end
end
raiseSeq(h, KEYS[3], ARGV[4])
return {redis.call('HGET', h, 'u'), redis.call('HGET', h, 'x')}
`;

/**
 * KEYS: session, replies. ARGV: id, reply, capacity, now. Records a reply in a live session's
 * window, keeping the `capacity` highest ids; the floor rises past every forgotten id.
 */
export const RECORD_REPLY = `${helpers}
local h, z = KEYS[1], KEYS[2]
if not alive(redis.call('HGET', h, 'x'), tonumber(ARGV[4])) then return 0 end
local id = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', z, id, id)
redis.call('ZADD', z, id, ARGV[1] .. ':' .. ARGV[2])
if id > num(redis.call('HGET', h, 'a'), 0) then redis.call('HSET', h, 'a', id) end
local over = redis.call('ZCARD', z) - tonumber(ARGV[3])
if over > 0 then
  local popped = redis.call('ZPOPMIN', z, over)
  local floor = num(redis.call('HGET', h, 'f'), 0)
  for i = 2, #popped, 2 do floor = math.max(floor, tonumber(popped[i])) end
  redis.call('HSET', h, 'f', floor)
end
local left = redis.call('PTTL', h)
if left > 0 then redis.call('PEXPIRE', z, left) elseif left == -1 then redis.call('PERSIST', z) end
return 1
`;

/**
 * KEYS: session, replies. ARGV: now, claim ('1': a hello claims a generation). Returns {user,
 * acked, floor, replies, owner, secret, anonymous, generation (each or false)} or false. A claim
 * is one above both the stored generation `g` and the last claim `c` (kept in `c`).
 */
export const LOAD_SESSION = `${helpers}
local h, z = KEYS[1], KEYS[2]
if not alive(redis.call('HGET', h, 'x'), tonumber(ARGV[1])) then return false end
local g = redis.call('HGET', h, 'g')
if ARGV[2] == '1' then
  g = math.max(num(redis.call('HGET', h, 'c'), 0), num(g, 0)) + 1
  redis.call('HSET', h, 'c', g)
end
return {redis.call('HGET', h, 'u'), num(redis.call('HGET', h, 'a'), 0), num(redis.call('HGET', h, 'f'), 0), redis.call('ZRANGE', z, 0, -1), redis.call('HGET', h, 'w'), redis.call('HGET', h, 'k'), redis.call('HGET', h, 'n'), g}
`;

/**
 * KEYS: a user's session index. ARGV: score (expiresAt or '+inf'), session id, now, realTtl
 * ('' when the session never expires). Adds the session and drops members that expired.
 */
export const INDEX_SESSION = `${helpers}
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
if ARGV[4] == '' then redis.call('PERSIST', KEYS[1]) elseif redis.call('ZSCORE', KEYS[1], ARGV[2]) ~= false then
  if redis.call('ZCOUNT', KEYS[1], '+inf', '+inf') == 0 then extend(KEYS[1], ARGV[4]) end
end
return 1
`;

/** KEYS: claim. ARGV: now, expiresAt, realTtl. 1 when claimed, 0 while an unexpired claim exists. */
export const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;
