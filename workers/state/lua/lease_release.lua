-- Delete a lease, only if it is still ours (compare-and-delete).
-- KEYS[1]: the lease key
-- ARGV[1]: the owner token
-- Returns 1 if deleted, 0 if the lease is gone or another owner's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
