-- Sets how many sockets are signed in as a user on one node (absolute) and decides
-- cluster-wide whether the user just came online or went offline.
-- KEYS[1] users hash (user -> total sockets), KEYS[2] this node's own hash (user -> n)
-- ARGV[1] user id, ARGV[2] n
-- Returns 1 = came online, -1 = went offline, 0 = no change.
local user = ARGV[1]
local n = tonumber(ARGV[2])
local old = tonumber(redis.call('HGET', KEYS[2], user) or '0')
local before = tonumber(redis.call('HGET', KEYS[1], user) or '0')
local after = before + n - old
if n > 0 then
  redis.call('HSET', KEYS[2], user, n)
else
  redis.call('HDEL', KEYS[2], user)
end
if after > 0 then
  redis.call('HSET', KEYS[1], user, after)
  if before <= 0 then return 1 end
else
  redis.call('HDEL', KEYS[1], user)
  if before > 0 then return -1 end
end
return 0
