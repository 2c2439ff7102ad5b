-- KEYS: load, index of loads, active loads, idempotency key, the key's payload digest;
-- ARGV: load id, created_at, fields (json object), whether the idempotency key is used,
-- the payload's digest. One script, so a crash never leaves a key naming a load that was
-- not recorded, or a load the reconciler cannot see. Returns {created (0/1, or 2: the
-- key holds a load of another payload), the load id that holds the key}.
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then
    local digest = redis.call('GET', KEYS[5])
    if digest and digest ~= ARGV[5] then
      return {2, existing}
    end
    return {0, existing}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, ARGV[1]}
end
for field, value in pairs(cjson.decode(ARGV[3])) do
  redis.call('HSET', KEYS[1], field, value)
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('SET', KEYS[5], ARGV[5])
end
return {1, ARGV[1]}
