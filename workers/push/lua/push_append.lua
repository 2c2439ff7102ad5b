-- KEYS: the queue's stream, the queue's hash, the instance's due set, the instance's queue set.
-- ARGV: queue id, consumer group, now (epoch s), the records' deadline (epoch s), objects
-- in a full request, bytes in a full request, the queue's identity (a JSON object, written
-- once), then one record per argument (its JSON).
-- Appends the records with their push time and deadline, creating the stream and its group
-- on first use, and moves the queue's flush time earlier (never later): to the deadline, or
-- to now once the queue holds a full request. Returns {1 if the flush time moved earlier,
-- the queue's depth, its bytes, the flush time (string)}.
local stream, queue, due, queues = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local queue_id, group, now, deadline = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local full_objects, full_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', stream) == 0 then
  redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
if redis.call('HEXISTS', queue, 'object') == 0 then
  for field, value in pairs(cjson.decode(ARGV[7])) do
    redis.call('HSET', queue, field, value)
  end
  redis.call('HSET', queue, 'created_at', now)
end
local added, last = 0, nil
for i = 8, #ARGV do
  last = redis.call('XADD', stream, '*', 'r', ARGV[i], 't', now, 'd', deadline)
  added = added + string.len(ARGV[i])
end
local count = #ARGV - 7
if last then
  redis.call('HSET', queue, 'last_id', last)
end
redis.call('HINCRBY', queue, 'pushed', count)
local bytes = redis.call('HINCRBY', queue, 'bytes', added)
redis.call('SADD', queues, queue_id)
local depth = redis.call('XLEN', stream)
local when = deadline
if depth >= full_objects or bytes >= full_bytes then
  when = now
end
if count == 0 then
  return {0, depth, bytes, tostring(redis.call('ZSCORE', due, queue_id) or '')}
end
local moved = redis.call('ZADD', due, 'LT', 'CH', when, queue_id)
return {moved, depth, bytes, tostring(when)}
