-- KEYS: the load's line; ARGV: load id, chunk, ring prefix, priorities (json list).
-- Takes a chunk out of line without a permit; the load leaves its ring once its line
-- is empty. Returns 1 if the chunk was in line.
local taken = redis.call('ZREM', KEYS[1], ARGV[2])
leave_rings_if_empty(KEYS[1], ARGV[3], cjson.decode(ARGV[4]), ARGV[1])
return taken
