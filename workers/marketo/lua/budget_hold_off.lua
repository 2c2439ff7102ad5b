-- KEYS: holdoff. ARGV: now, seconds. Moves the shared hold-off later, never earlier.
-- Runs after budget_now.lua, which sets `now` from ARGV[1].
local ends = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if ends > current then
  redis.call('SET', KEYS[1], tostring(ends), 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return tostring(ends)
end
return tostring(current)
