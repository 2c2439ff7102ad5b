-- KEYS: load, active loads; ARGV: allowed states (json list), new state, fields (json
-- object), fields to clear (json list), increments (json object), now, load id.
-- A finished load back to work (a resume): the compare-and-set of its state and its
-- return to the active loads in one step, so a crash never leaves a load running that
-- the reconciler cannot see. Returns 'OK', or the state found instead (nil: no load).
local allowed = cjson.decode(ARGV[1])
local current = redis.call('HGET', KEYS[1], 'state')
if not current then
  return nil
end
local ok = false
for _, state in ipairs(allowed) do
  if state == current then ok = true end
end
if not ok then
  return current
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[6])
for field, value in pairs(cjson.decode(ARGV[3])) do
  redis.call('HSET', KEYS[1], field, tostring(value))
end
for _, field in ipairs(cjson.decode(ARGV[4])) do
  redis.call('HDEL', KEYS[1], field)
end
for field, amount in pairs(cjson.decode(ARGV[5])) do
  redis.call('HINCRBY', KEYS[1], field, amount)
end
redis.call('SADD', KEYS[2], ARGV[7])
return 'OK'
