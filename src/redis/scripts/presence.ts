/** Lua scripts of presence: members per channel, each expiring unless refreshed (conventions in ./helpers.ts). */

/**
 * KEYS: members (zset by expiry), data (hash). ARGV: client, member JSON, expiresAt, realTtl,
 * now, generation ('' for none). Returns 1 when the member was not present (or had expired), 0
 * when it was; a member held by a higher generation is left as it is.
 */
export const PRESENCE_JOIN = `
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
local fresh = 1
if held and tonumber(held) >= tonumber(ARGV[5]) then
  if ARGV[6] ~= '' then
    local json = redis.call('HGET', KEYS[2], ARGV[1])
    if json then
      local ok, member = pcall(cjson.decode, json)
      if ok and type(member) == 'table' and type(member.generation) == 'number' and member.generation > tonumber(ARGV[6]) then return 0 end
    end
  end
  fresh = 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < tonumber(ARGV[4]) then redis.call('PEXPIRE', k, ARGV[4]) end
end
return fresh
`;

/**
 * KEYS: members, data. ARGV: client, connection ('' for any). Removes the member unless another
 * connection holds it now; returns 1 when it removed it, 0 when it was kept or was not there.
 */
export const PRESENCE_LEAVE = `
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not json then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if ARGV[2] ~= '' then
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.connection ~= nil and member.connection ~= ARGV[2] then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: members, data. ARGV: now. The JSON of the members whose ttl has not ended. Expired ones
 * are left for PRESENCE_EXPIRE (a live node tells their leave) or the keys' own expiry. Read
 * 1 000 at a time: Lua's unpack takes fewer than 8 000 values, and a channel's members across
 * the nodes can be more.
 */
export const PRESENCE_LIST = `
local clients = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
local found = {}
for first = 1, #clients, 1000 do
  local json = redis.call('HMGET', KEYS[2], unpack(clients, first, math.min(first + 999, #clients)))
  for i = 1, #json do found[#found + 1] = json[i] end
end
return found
`;

/**
 * KEYS: members, data. ARGV: now. Removes the members whose ttl ended and returns their JSON:
 * atomically, so each one is handed to one caller only.
 */
export const PRESENCE_EXPIRE = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local gone = {}
for _, client in ipairs(expired) do
  local json = redis.call('HGET', KEYS[2], client)
  redis.call('ZREM', KEYS[1], client)
  redis.call('HDEL', KEYS[2], client)
  if json then gone[#gone + 1] = json end
end
return gone
`;
