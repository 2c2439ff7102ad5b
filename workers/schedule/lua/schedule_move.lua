-- KEYS: the schedule's record; ARGV: run key, allowed states (json list; empty: claim a
-- run other than the recorded one, replacing it unless the recorded one is newer, as a
-- worker whose clock lags could ask), fields (json object), the run's fire time (epoch s)
local run = redis.call('HGET', KEYS[1], 'run')
local allowed = cjson.decode(ARGV[2])
if #allowed == 0 then
  if run == ARGV[1] then return 0 end
  local recorded = tonumber(redis.call('HGET', KEYS[1], 'fire_ts') or '0')
  if recorded > tonumber(ARGV[4]) then return 0 end
  redis.call('DEL', KEYS[1])
else
  if run ~= ARGV[1] then return 0 end
  local state = redis.call('HGET', KEYS[1], 'state')
  local ok = false
  for _, s in ipairs(allowed) do
    if s == state then ok = true end
  end
  if not ok then return 0 end
end
for field, value in pairs(cjson.decode(ARGV[3])) do
  redis.call('HSET', KEYS[1], field, tostring(value))
end
return 1
