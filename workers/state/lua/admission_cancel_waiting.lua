-- KEYS: the load's ledger record, the load's set of chunk indexes, permits, the load's line;
-- ARGV: load id, chunk record prefix, ring prefix, priorities (json list), the cancelling
-- state, the waiting state, the cancelled chunk state, now, the message.
-- A cancelled load's chunks out of line, in one step: only while the load is cancelling,
-- its line goes, and every chunk waiting without a permit is cancelled in the ledger
-- (never sent; its rows counted in rows_cancelled). A chunk granted a permit before this
-- is not touched: it is submitted and counted as sent. Returns the indexes cancelled.
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[5] then
  return {}
end
redis.call('DEL', KEYS[4])
leave_rings_if_empty(KEYS[4], ARGV[3], cjson.decode(ARGV[4]), ARGV[1])
local cancelled = {}
for _, index in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local chunk = ARGV[2] .. index
  if redis.call('HGET', chunk, 'state') == ARGV[6]
      and not redis.call('ZSCORE', KEYS[3], ARGV[1] .. ':' .. index) then
    redis.call('HSET', chunk, 'state', ARGV[7], 'updated_at', ARGV[8], 'message', ARGV[9])
    redis.call('HINCRBY', KEYS[1], 'chunks_cancelled', 1)
    redis.call('HINCRBY', KEYS[1], 'rows_cancelled', tonumber(redis.call('HGET', chunk, 'rows') or '0'))
    cancelled[#cancelled + 1] = tonumber(index)
  end
end
return cancelled
