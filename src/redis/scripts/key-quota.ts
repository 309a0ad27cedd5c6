/** Lua script of the per-user quota of idempotency-key records (conventions in ./helpers.ts). */

import { helpers } from './helpers.js';

/**
 * KEYS: the holder's index (a sorted set of record key names). ARGV: record, expiresAt, now,
 * limit, life. Counts `record` against its holder and returns the names of the holder's oldest
 * records past `limit`, taken out of the index (the caller deletes them: they live in their
 * channels' hash slots, which a script here may not touch).
 *
 * A record's score is its logical expiry, raised to one past the newest score when it would not
 * be above it: scores then follow insertion order even for records made in the same
 * millisecond, so the oldest goes first, and the record just counted never does (limit >= 1).
 * Entries whose records have expired (score <= now) leave the count first. A record already
 * counted (a retry under the same key) keeps its place. The index lives at least as long as its
 * longest-lived record (`life`, the record's own real ttl: never shortened by a shorter one).
 */
export const HOLD = `${helpers}
local index, record = KEYS[1], ARGV[1]
redis.call('ZREMRANGEBYSCORE', index, '-inf', ARGV[3])
if not redis.call('ZSCORE', index, record) then
  local score = tonumber(ARGV[2])
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
  redis.call('ZADD', index, string.format('%.0f', score), record)
  extend(index, ARGV[5])
end
local over = redis.call('ZCARD', index) - tonumber(ARGV[4])
if over <= 0 then return {} end
local oldest = redis.call('ZRANGE', index, 0, over - 1)
redis.call('ZREMRANGEBYRANK', index, 0, over - 1)
return oldest
`;
