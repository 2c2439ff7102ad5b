-- Give back the objects of a request that surely never reached Marketo (refused before
-- sending), so they do not use our share of the day. Never below zero.
-- KEYS: daily objects (counter). ARGV: objects.
local left = redis.call('DECRBY', KEYS[1], tonumber(ARGV[1]))
if left < 0 then redis.call('SET', KEYS[1], '0', 'KEEPTTL') end
return left
