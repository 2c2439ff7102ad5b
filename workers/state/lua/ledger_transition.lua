-- KEYS: record, load (for roll-ups); ARGV: allowed states (json list), new state,
-- fields (json object), load increments (json object), now
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
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[5])
for field, value in pairs(cjson.decode(ARGV[3])) do
  redis.call('HSET', KEYS[1], field, tostring(value))
end
for field, amount in pairs(cjson.decode(ARGV[4])) do
  redis.call('HINCRBY', KEYS[2], field, amount)
end
return 'OK'
