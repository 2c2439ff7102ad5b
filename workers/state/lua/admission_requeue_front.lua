-- KEYS: waiting, permits, hold_until; ARGV: chunk, hold_until_ms
-- Give the permit back and put the chunk at the head of the line (score below
-- every sequence number), then stop granting until the hold passes.
redis.call('ZREM', KEYS[2], ARGV[1])
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local score = 0
if head[2] then
  score = math.min(0, tonumber(head[2])) - 1
end
redis.call('ZADD', KEYS[1], score, ARGV[1])
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[2]) > hold then
  redis.call('SET', KEYS[3], ARGV[2])
end
return 1
