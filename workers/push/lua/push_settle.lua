-- KEYS: the queue's stream, the queue's hash, the instance's due set.
-- ARGV: consumer group, queue id, the next flush time (epoch s; empty: none is due).
-- A flusher that has read everything sets the queue's next flush time, unless a record was
-- appended since its last read (the group has not been given the stream's last entry):
-- then it returns 0 and the flusher reads again. Returns 1 when settled.
local stream, queue, due = KEYS[1], KEYS[2], KEYS[3]
local last = redis.call('HGET', queue, 'last_id')
if last then
  local delivered = nil
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do
      fields[info[i]] = info[i + 1]
    end
    if fields['name'] == ARGV[1] then
      delivered = fields['last-delivered-id']
    end
  end
  if delivered ~= last then
    return 0
  end
end
if ARGV[3] == '' then
  redis.call('ZREM', due, ARGV[2])
else
  redis.call('ZADD', due, ARGV[3], ARGV[2])
end
return 1
