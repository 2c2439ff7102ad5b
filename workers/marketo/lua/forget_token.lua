-- Drop the cached access token, only if it is still the one that failed.
-- KEYS[1]: the cached token (JSON with a "token" field)
-- ARGV[1]: the token Marketo refused
-- Returns 1 if deleted, 0 if it expired or another worker replaced it.
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['token'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
