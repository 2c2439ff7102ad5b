-- KEYS: permits, sequence, the load's line, the load's ledger record;
-- ARGV: chunk, load id, ring prefix, priorities (json list), default priority,
-- closed load states (json list).
-- Puts the chunk at the back of its load's line, and the load in its priority's ring.
-- Returns 0 (nothing queued) for a chunk holding a permit or already in line, and -1
-- for a chunk whose load's line is closed (cancelled).
local priorities = cjson.decode(ARGV[4])
if is_closed(KEYS[4], cjson.decode(ARGV[6])) then
  return -1
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local ring = ARGV[3] .. priority_of(KEYS[4], priorities, ARGV[5])
local queued = 0
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[2]), ARGV[1])
  queued = 1
end
join_ring(ring, ARGV[2], KEYS[2])
return queued
