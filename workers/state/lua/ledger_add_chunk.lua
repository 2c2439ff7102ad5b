-- KEYS: chunk, the load's set of chunk indexes; ARGV: state, fields (json object), index
if redis.call('HSETNX', KEYS[1], 'state', ARGV[1]) == 0 then
  return 0
end
for field, value in pairs(cjson.decode(ARGV[2])) do
  redis.call('HSET', KEYS[1], field, value)
end
redis.call('SADD', KEYS[2], ARGV[3])
return 1
