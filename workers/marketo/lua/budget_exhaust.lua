-- KEYS: daily, quota override. ARGV: limit, ttl, reserve. Marks today's share as used
-- (after Marketo's own 607).
local limit = tonumber(ARGV[1])
local override = redis.call('GET', KEYS[2])
if override then limit = math.max(0, tonumber(override) - tonumber(ARGV[3])) end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used < limit then redis.call('SET', KEYS[1], limit, 'EX', ARGV[2]) end
return 1
