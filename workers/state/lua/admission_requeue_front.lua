-- KEYS: permits, hold_until, sequence, the load's line, the load's ledger record;
-- ARGV: chunk, load id, hold_until_ms, ring prefix, priorities (json list), default priority,
-- closed load states (json list).
-- Give the permit back and put the chunk at the head of its load's line (score below
-- every sequence number) and the load at the head of its ring, so the chunk is the
-- next of its priority granted; then stop granting until the hold passes. A chunk of
-- a closed line (its load was cancelled) is not put back: returns -1.
local priorities = cjson.decode(ARGV[5])
redis.call('ZREM', KEYS[1], ARGV[1])
local hold = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[3]) > hold then
  redis.call('SET', KEYS[2], ARGV[3])
end
if is_closed(KEYS[5], cjson.decode(ARGV[7])) then
  return -1
end
local head = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local score = 0
if head[2] then
  score = math.min(0, tonumber(head[2])) - 1
end
redis.call('ZADD', KEYS[4], score, ARGV[1])
local ring = ARGV[4] .. priority_of(KEYS[5], priorities, ARGV[6])
local first = redis.call('ZRANGE', ring, 0, 0, 'WITHSCORES')
local place = 0
if first[2] then
  place = math.min(0, tonumber(first[2])) - 1
end
redis.call('ZADD', ring, place, ARGV[2])
return 1
