-- KEYS: rate, inflight, holdoff, daily, quota override, usage. ARGV: now, holder,
-- rate_limit, window, max_concurrent, lease, daily_limit, daily_ttl, count_daily (0 for
-- identity calls), reserve. The override (``mkto-bulk quota set``) replaces the configured
-- daily quota at once for every worker; the reserve still applies. The usage hash holds
-- what other integrations used today (Marketo's usage report): beyond the reserve, it
-- comes off our share.
-- Returns {status, value, limit, others}: 0 granted (value = daily count), 1 hold-off,
-- 2 concurrency, 3 rate (value = seconds to wait), 4 daily share used (value = count).
-- Runs after budget_now.lua, which sets `now` from ARGV[1].
local holder, rate_limit, window = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local max_concurrent, lease = tonumber(ARGV[5]), tonumber(ARGV[6])
local daily_limit, daily_ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local count_daily, reserve = ARGV[9] == '1', tonumber(ARGV[10])
local override = redis.call('GET', KEYS[5])
if override then daily_limit = math.max(0, tonumber(override) - reserve) end
local others = tonumber(redis.call('HGET', KEYS[6], 'others') or '0')
if others > reserve then daily_limit = math.max(0, daily_limit - (others - reserve)) end
local holdoff = tonumber(redis.call('GET', KEYS[3]) or '0')
if holdoff > now then return {1, tostring(holdoff - now)} end
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
if count_daily and used >= daily_limit then
  return {4, tostring(used), tostring(daily_limit), tostring(others)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= max_concurrent then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tostring(tonumber(first[2]) - now)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= rate_limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {3, tostring(tonumber(first[2]) + window - now)}
end
redis.call('ZADD', KEYS[2], now + lease, holder)
redis.call('ZADD', KEYS[1], now + lease, holder)
redis.call('PEXPIRE', KEYS[2], math.ceil(lease * 1000) + 1000)
redis.call('PEXPIRE', KEYS[1], math.ceil((lease + window) * 1000) + 1000)
if not count_daily then return {0, tostring(used)} end
local count = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], daily_ttl)
return {0, tostring(count)}
