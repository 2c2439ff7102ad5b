-- KEYS: none of its own (the rings and lines are named from the prefixes);
-- ARGV: line prefix, ring prefix, priorities (json list).
-- For each priority, in order: {loads with chunks waiting, chunks waiting}, read at once.
local counts = {}
for _, name in ipairs(cjson.decode(ARGV[3])) do
  local loads = redis.call('ZRANGE', ARGV[2] .. name, 0, -1)
  local chunks = 0
  for _, load in ipairs(loads) do
    chunks = chunks + redis.call('ZCARD', ARGV[1] .. load)
  end
  counts[#counts + 1] = {#loads, chunks}
end
return counts
