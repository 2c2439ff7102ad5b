-- KEYS: permits, sequence, the load's line, the load's ledger record;
-- ARGV: chunk, load id, ring prefix, priorities (json list), default priority.
-- Puts the chunk at the back of its load's line, and the load in its priority's ring.
-- Returns 0 (nothing queued) for a chunk holding a permit or already in line.
local priorities = cjson.decode(ARGV[4])
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
