/** Lua scripts of direct messages: a session's outbox (conventions in ./helpers.ts). */

import { helpers } from './helpers.js';

/**
 * KEYS: outboxMeta, outbox. ARGV: data, now, ttl, realTtl, pubCommand, pubChannel, limit ('' for
 * none). Returns the seq, or 0 when the outbox already held `limit` unacknowledged messages
 * (nothing stored). What expired stays gone; a send only ever extends the outbox's life; seqs
 * never repeat.
 */
export const SEND_DIRECT = `${helpers}
local om, o = KEYS[1], KEYS[2]
local now = tonumber(ARGV[2])
local x = redis.call('HGET', om, 'x')
if not alive(x, now) then redis.call('DEL', o) end
local limit = tonumber(ARGV[7])
if limit and redis.call('ZCARD', o) >= limit then return 0 end
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
 * KEYS: session, outboxMeta. ARGV: lastSeq. The serving node, its connection back (a failover
 * may have lost the last sends), raises a live session's outbox seq to the last it heard, so no
 * seq is issued twice. Returns 1.
 */
export const RAISE_SEQ = `${helpers}
if redis.call('EXISTS', KEYS[1]) == 1 then raiseSeq(KEYS[1], KEYS[2], ARGV[1]) end
return 1
`;
