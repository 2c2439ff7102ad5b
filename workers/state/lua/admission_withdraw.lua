-- KEYS: the load's line; ARGV: load id, chunk ('' for every chunk of the load),
-- ring prefix, priorities (json list).
-- Takes chunks out of line without a permit; the load leaves its ring once its line
-- is empty. Returns the chunk ids taken out.
local taken = {}
if ARGV[2] == '' then
  taken = redis.call('ZRANGE', KEYS[1], 0, -1)
  redis.call('DEL', KEYS[1])
elseif redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  taken = {ARGV[2]}
end
leave_rings_if_empty(KEYS[1], ARGV[3], cjson.decode(ARGV[4]), ARGV[1])
return taken
