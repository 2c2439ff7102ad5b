-- The prelude of the scripts that keep a lane's lines: helpers only, no key of its own.
-- KEYS: none; ARGV: none (each script passes the prefixes and names its helpers need).
-- A lane keeps one line per load (a sorted set of its chunk ids, by place in line) and
-- one ring per priority (a sorted set of the loads with chunks waiting, scored by the
-- sequence number of their last grant, so the head is the load granted longest ago).
-- Invariant: a load is in a ring exactly while its line holds a chunk.

-- The priority named in a load's payload (its ledger record), or the default.
local function priority_of(load_key, priorities, default)
  local params = redis.call('HGET', load_key, 'params')
  if params then
    local ok, decoded = pcall(cjson.decode, params)
    if ok and type(decoded) == 'table' then
      for _, name in ipairs(priorities) do
        if decoded['priority'] == name then
          return name
        end
      end
    end
  end
  return default
end

-- Whether a load's line is closed: its ledger state is one of `closed` (its load was
-- cancelled), so nothing of it is queued or granted.
local function is_closed(load_key, closed)
  local state = redis.call('HGET', load_key, 'state')
  for _, name in ipairs(closed) do
    if name == state then
      return true
    end
  end
  return false
end

-- The load id of a chunk id ('<load id>:<index>').
local function load_of(chunk)
  return string.match(chunk, '^(.*):[^:]*$')
end

-- A load joins its ring at the back (as if granted just now), unless it is in it.
local function join_ring(ring, load, sequence)
  if not redis.call('ZSCORE', ring, load) then
    redis.call('ZADD', ring, redis.call('INCR', sequence), load)
  end
end

-- A load whose line is empty leaves every ring.
local function leave_rings_if_empty(line, ring_prefix, priorities, load)
  if redis.call('EXISTS', line) == 0 then
    for _, name in ipairs(priorities) do
      redis.call('ZREM', ring_prefix .. name, load)
    end
  end
end
