-- One Data Ingestion request of N objects: room in the requests-per-second window of the
-- client id, no hold-off after a 429, and our share of the day's objects left.
-- KEYS: rate (sorted set), daily objects (counter), hold-off (epoch seconds).
-- ARGV: now, holder, requests per window, window (s), objects, daily limit, daily TTL (s).
-- Returns {status, value}: 0 granted (value = objects counted today), 1 hold-off or
-- 3 rate (value = seconds to wait), 4 daily share used (value = objects counted today).
-- Runs after budget_now.lua, which sets `now` from ARGV[1].
local holder, per_window, window = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local objects, daily_limit, daily_ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local holdoff = tonumber(redis.call('GET', KEYS[3]) or '0')
if holdoff > now then return {1, tostring(holdoff - now)} end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used + objects > daily_limit then return {4, tostring(used)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= per_window then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {3, tostring(tonumber(first[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now, holder)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
local count = redis.call('INCRBY', KEYS[2], objects)
redis.call('EXPIRE', KEYS[2], daily_ttl)
return {0, tostring(count)}
