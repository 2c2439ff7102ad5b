-- The prelude of the budget scripts: sets `now` (epoch seconds) from ARGV[1],
-- or from the Redis server's clock when ARGV[1] is negative.
-- KEYS: none; ARGV[1]: now, or -1 for the server's time
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
