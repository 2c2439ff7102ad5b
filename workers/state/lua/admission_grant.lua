-- KEYS: waiting, permits, hold_until; ARGV: now_ms, max, lease_ms, limit
-- Ghost permits (jobs that may exist in Marketo unknown to us) free themselves
-- when their estimated end passes; real permits never do.
local now = tonumber(ARGV[1])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  if string.sub(member, 1, 6) == 'ghost:' then
    redis.call('ZREM', KEYS[2], member)
  end
end
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if now < hold then
  return {}
end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2])
local limit = tonumber(ARGV[4])
if limit >= 0 and limit < free then
  free = limit
end
if free <= 0 then
  return {}
end
local heads = redis.call('ZRANGE', KEYS[1], 0, free - 1)
for _, chunk in ipairs(heads) do
  redis.call('ZREM', KEYS[1], chunk)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), chunk)
end
return heads
