-- KEYS: waiting, permits, sequence; ARGV: chunk
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
return 1
