-- KEYS: rate, inflight. ARGV: now, holder, window. Returns 1 if the lease was still held.
-- Runs after budget_now.lua, which sets `now` from ARGV[1].
local held = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
return held
