/**
 * The Lua scripts the Redis broker runs (one file per concern). Each one touches keys of a single hash slot (every key
 * it names shares one `{hash tag}`), so they run unchanged on Redis Cluster. Time is never read
 * from the Redis server: the node passes its clock's `now`, so logical expiry follows the
 * injected clock (and a fake one in tests), while real key expiry (PEXPIRE) is a backstop that
 * only ever outlives it.
 */

/** Shared Lua helpers, prepended to the scripts that use them. */
export const helpers = `
local function num(v, default) if v then return tonumber(v) end return default end
local function alive(x, now) return x ~= false and x ~= nil and (x == 'inf' or tonumber(x) >= now) end
local function extend(key, ms)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < tonumber(ms)) then redis.call('PEXPIRE', key, ms) end
end
-- A session's outbox issues no seq at or below floor again (never lowered): after a failover that
-- lost the last sends, the serving node writes back the last seq it heard. Only for a live
-- session (h); an outbox meta made here lives as long as the session's record.
local function raiseSeq(h, om, floor)
  if tonumber(floor) <= 0 or tonumber(redis.call('HGET', om, 'n') or '0') >= tonumber(floor) then return end
  redis.call('HSET', om, 'n', floor)
  if redis.call('PTTL', om) == -1 then
    local left = redis.call('PTTL', h)
    if left > 0 then redis.call('PEXPIRE', om, left) end
  end
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
