-- Sets one node's subscription count for a channel to an absolute value and keeps the
-- cluster-wide total in step. Absolute (not +1/-1) so a retry or a rebuild can never
-- double-count.
-- KEYS[1] counts hash (channel -> total), KEYS[2] this node's own hash (channel -> n)
-- ARGV[1] channel, ARGV[2] n
-- Returns the cluster-wide total after the change.
local channel = ARGV[1]
local n = tonumber(ARGV[2])
local old = tonumber(redis.call('HGET', KEYS[2], channel) or '0')
local total = tonumber(redis.call('HGET', KEYS[1], channel) or '0')
if n == old then
  return total
end
total = total + n - old
if n > 0 then
  redis.call('HSET', KEYS[2], channel, n)
else
  redis.call('HDEL', KEYS[2], channel)
end
if total > 0 then
  redis.call('HSET', KEYS[1], channel, total)
else
  redis.call('HDEL', KEYS[1], channel)
  total = 0
end
return total
