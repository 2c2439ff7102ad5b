-- KEYS: permits, hold_until, sequence, the line of the earlier version (one for all loads);
-- ARGV: now_ms, max, lease_ms, limit, line prefix, ring prefix, priorities (json list,
-- in grant order), default priority, load record prefix, closed load states (json list).
-- Grants free permits from the highest priority with chunks waiting, round-robin
-- between its loads: each grant takes the first chunk of the load granted longest
-- ago, and sends that load to the back of its ring. A closed line (its load was
-- cancelled) leaves its ring and is granted nothing; the cancel takes its chunks out.
-- Ghost permits (jobs that may exist in Marketo unknown to us) free themselves
-- when their estimated end passes; real permits never do.
local now = tonumber(ARGV[1])
local priorities = cjson.decode(ARGV[7])
local closed = cjson.decode(ARGV[10])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  if string.sub(member, 1, 6) == 'ghost:' then
    redis.call('ZREM', KEYS[1], member)
  end
end
-- Chunks the earlier version left in its single line move to their loads' lines, in order.
local legacy = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
for i = 1, #legacy, 2 do
  local chunk, load = legacy[i], load_of(legacy[i])
  if load and not redis.call('ZSCORE', KEYS[1], chunk) then
    redis.call('ZADD', ARGV[5] .. load, 'NX', legacy[i + 1], chunk)
    local ring = ARGV[6] .. priority_of(ARGV[9] .. load, priorities, ARGV[8])
    join_ring(ring, load, KEYS[3])
  end
end
if #legacy > 0 then
  redis.call('DEL', KEYS[4])
end
local hold = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < hold then
  return {}
end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[4])
if limit >= 0 and limit < free then
  free = limit
end
local granted = {}
local deadline = now + tonumber(ARGV[3])
for _, name in ipairs(priorities) do
  local ring = ARGV[6] .. name
  while #granted < free do
    local load = redis.call('ZRANGE', ring, 0, 0)[1]
    if not load then
      break
    end
    local line = ARGV[5] .. load
    local chunk = nil
    if not is_closed(ARGV[9] .. load, closed) then
      chunk = redis.call('ZRANGE', line, 0, 0)[1]
    end
    if chunk then
      redis.call('ZREM', line, chunk)
      redis.call('ZADD', KEYS[1], deadline, chunk)
      granted[#granted + 1] = chunk
    end
    if chunk and redis.call('EXISTS', line) == 1 then
      redis.call('ZADD', ring, 'XX', redis.call('INCR', KEYS[3]), load)
    else
      redis.call('ZREM', ring, load)
    end
  end
end
return granted
