-- Extend a lease, only while it is still ours.
-- KEYS[1]: the lease key
-- ARGV[1]: the owner token; ARGV[2]: the new lifetime (ms)
-- Returns 1 if renewed, 0 if the lease is gone or another owner's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
