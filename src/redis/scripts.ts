/**
 * The Lua scripts the Redis broker runs. Each one touches keys of a single hash slot (every key
 * it names shares one `{hash tag}`), so they run unchanged on Redis Cluster. Time is never read
 * from the Redis server: the node passes its clock's `now`, so logical expiry follows the
 * injected clock (and a fake one in tests), while real key expiry (PEXPIRE) is a backstop that
 * only ever outlives it.
 */

/** Shared helpers, prepended to scripts that use them. */
const helpers = `
local function num(v, default) if v then return tonumber(v) end return default end
local function alive(x, now) return x ~= false and x ~= nil and (x == 'inf' or tonumber(x) >= now) end
local function extend(key, ms)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < tonumber(ms)) then redis.call('PEXPIRE', key, ms) end
end
local function newHistory(meta, log, epoch, life)
  redis.call('DEL', log)
  redis.call('HSET', meta, 'e', epoch, 'h', 0, 'm', 0, 'q', 0, 's', 0, 't', 0)
  redis.call('PEXPIRE', meta, life)
end
local function current(meta, log, newEpoch, life, knownEpoch, knownOffset)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    newHistory(meta, log, newEpoch, life)
    return newEpoch
  end
  if knownEpoch == epoch and tonumber(redis.call('HGET', meta, 'h')) < tonumber(knownOffset) then
    newHistory(meta, log, newEpoch, life)
    return newEpoch
  end
  return epoch
end
`;

/**
 * KEYS: meta, log[, origin]. ARGV: data, now, size, ttl, newEpoch, life, pubCommand,
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
redis.call('HSET', meta, 's', size, 't', ttl)
if size > 0 then
  local m, q = num(redis.call('HGET', meta, 'm'), 0), num(redis.call('HGET', meta, 'q'), 0)
  if now > m then m, q = now, 0 else q = q + 1 end
  local ms = string.format('%.0f', m)
  redis.call('HSET', meta, 'm', ms, 'q', q)
  redis.call('XADD', log, 'MAXLEN', '~', size, ms .. '-' .. q, 'o', offset, 'd', ARGV[1])
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

/**
 * KEYS: session, replies, outboxMeta, outbox. ARGV: user, acked, floor, now, expiresAt ('inf'
 * or ms), realTtl, sentSeq (seqs at or below it are never issued again), owner ('' keeps the
 * stored one), secret digest ('' keeps the stored one), anonymous ('1' or '0', with the secret),
 * then id, reply pairs. A live stored window with a higher or
 * equal `acked` is kept (a later save may carry an older view); the outbox lives at least as
 * long as its session.
 */
export const SAVE_SESSION = `${helpers}
local h, z, om, o = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[4])
local keep = false
if alive(redis.call('HGET', h, 'x'), now) then keep = num(redis.call('HGET', h, 'a'), 0) >= tonumber(ARGV[2]) end
if not keep then
  redis.call('DEL', z)
  redis.call('HSET', h, 'a', ARGV[2], 'f', ARGV[3])
  for i = 11, #ARGV, 2 do redis.call('ZADD', z, ARGV[i], ARGV[i] .. ':' .. ARGV[i + 1]) end
end
redis.call('HSET', h, 'u', ARGV[1], 'x', ARGV[5])
if ARGV[9] ~= '' then redis.call('HSET', h, 'k', ARGV[9], 'n', ARGV[10]) end
if tonumber(redis.call('HGET', om, 'n') or '0') < tonumber(ARGV[7]) then redis.call('HSET', om, 'n', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', h, 'w', ARGV[8]) end
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
 * KEYS: session, replies, outboxMeta, outbox. ARGV: now, expiresAt, realTtl. Extends a live
 * session (never shortens it); returns {user JSON, expiresAt}, or false when it is gone.
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

/** KEYS: session, replies. ARGV: now. Returns {user, acked, floor, replies, owner, secret, anonymous (each or false)} or false. */
export const LOAD_SESSION = `${helpers}
local h, z = KEYS[1], KEYS[2]
if not alive(redis.call('HGET', h, 'x'), tonumber(ARGV[1])) then return false end
return {redis.call('HGET', h, 'u'), num(redis.call('HGET', h, 'a'), 0), num(redis.call('HGET', h, 'f'), 0), redis.call('ZRANGE', z, 0, -1), redis.call('HGET', h, 'w'), redis.call('HGET', h, 'k'), redis.call('HGET', h, 'n')}
`;

/**
 * KEYS: outboxMeta, outbox. ARGV: data, now, ttl, realTtl, pubCommand, pubChannel. Returns the
 * seq. What expired stays gone; a send only ever extends the outbox's life; seqs never repeat.
 */
export const SEND_DIRECT = `${helpers}
local om, o = KEYS[1], KEYS[2]
local now = tonumber(ARGV[2])
local x = redis.call('HGET', om, 'x')
if not alive(x, now) then redis.call('DEL', o) end
local until_ = now + tonumber(ARGV[3])
if not x or (x ~= 'inf' and tonumber(x) < until_) then redis.call('HSET', om, 'x', string.format('%.0f', until_)) end
local seq = redis.call('HINCRBY', om, 'n', 1)
redis.call('ZADD', o, seq, seq .. ':' .. ARGV[1])
if x ~= 'inf' then
  extend(om, ARGV[4])
  extend(o, ARGV[4])
end
if ARGV[5] ~= '' then redis.call(ARGV[5], ARGV[6], seq .. ' ' .. ARGV[1]) end
return seq
`;

/** KEYS: outboxMeta, outbox. ARGV: afterSeq, now. The unacknowledged messages after afterSeq. */
export const PENDING_DIRECT = `${helpers}
if not alive(redis.call('HGET', KEYS[1], 'x'), tonumber(ARGV[2])) then return {} end
return redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
`;

/**
 * KEYS: members (zset by expiry), data (hash). ARGV: client, member JSON, expiresAt, realTtl,
 * now. Returns 1 when the member was not present (or had expired), 0 when it was.
 */
export const PRESENCE_JOIN = `
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
local fresh = 1
if held and tonumber(held) >= tonumber(ARGV[5]) then fresh = 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < tonumber(ARGV[4]) then redis.call('PEXPIRE', k, ARGV[4]) end
end
return fresh
`;

/**
 * KEYS: members, data. ARGV: client, connection ('' for any). Removes the member unless another
 * connection holds it now; returns 0 when it was kept, 1 otherwise.
 */
export const PRESENCE_LEAVE = `
if ARGV[2] ~= '' then
  local json = redis.call('HGET', KEYS[2], ARGV[1])
  if json then
    local ok, member = pcall(cjson.decode, json)
    if ok and type(member) == 'table' and member.connection ~= nil and member.connection ~= ARGV[2] then return 0 end
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: members, data. ARGV: now. Drops expired members, returns the others' JSON. */
export const PRESENCE_LIST = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, client in ipairs(expired) do
  redis.call('ZREM', KEYS[1], client)
  redis.call('HDEL', KEYS[2], client)
end
local clients = redis.call('ZRANGE', KEYS[1], 0, -1)
if #clients == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(clients))
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
