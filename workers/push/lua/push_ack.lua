-- KEYS: the queue's stream, the queue's hash.
-- ARGV: consumer group, the batch's bytes, records sent, records failed, records repeated,
-- now (epoch s), the batch id, then the batch's entry ids.
-- The batch is done (its request accepted, or its failure recorded): acknowledge and delete
-- its entries, count it, and clear it as the batch in flight. Counted only if this call
-- acknowledged its entries (a deposed flusher that finishes late counts nothing twice).
-- Returns the number of entries acknowledged.
local stream, queue = KEYS[1], KEYS[2]
local ids = {}
for i = 8, #ARGV do
  ids[#ids + 1] = ARGV[i]
end
local acked = 0
if #ids > 0 then
  acked = redis.call('XACK', stream, ARGV[1], unpack(ids))
  redis.call('XDEL', stream, unpack(ids))
end
if acked > 0 then
  redis.call('HINCRBY', queue, 'bytes', -tonumber(ARGV[2]))
  redis.call('HINCRBY', queue, 'sent', tonumber(ARGV[3]))
  redis.call('HINCRBY', queue, 'failed', tonumber(ARGV[4]))
  redis.call('HINCRBY', queue, 'repeated', tonumber(ARGV[5]))
  redis.call('HINCRBY', queue, 'flushes', 1)
  redis.call('HSET', queue, 'last_flush_at', ARGV[6])
end
if redis.call('HGET', queue, 'inflight_id') == ARGV[7] then
  redis.call('HDEL', queue, 'inflight_id', 'inflight')
end
return acked
