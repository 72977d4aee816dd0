-- Sets one node's subscription count for a channel to an absolute value and keeps the
-- cluster-wide total in step, like set_count.lua. Also decides the occupied / vacated
-- webhooks, atomically, so exactly one node sees each crossing of zero: a vacated is held
-- under a token (KEYS[3]) that the deciding node confirms at due time; a return before
-- that cancels it (value 'x') and reports no occupied either.
-- KEYS[1] counts hash (channel -> total), KEYS[2] this node's own hash (channel -> n),
-- KEYS[3] the channel's held-vacated key
-- ARGV[1] channel, ARGV[2] n, ARGV[3] token for a new hold, ARGV[4] hold key TTL (ms)
-- Returns {total after the change, transition}: 1 occupied, -1 vacated (held), 0 none.
local channel = ARGV[1]
local n = tonumber(ARGV[2])
local old = tonumber(redis.call('HGET', KEYS[2], channel) or '0')
local total = tonumber(redis.call('HGET', KEYS[1], channel) or '0')
if n == old then
  return {total, 0}
end
local before = total
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
local transition = 0
if before <= 0 and total > 0 then
  local held = redis.call('GET', KEYS[3])
  if held and held ~= 'x' then
    redis.call('SET', KEYS[3], 'x', 'KEEPTTL')
  else
    transition = 1
  end
elseif before > 0 and total == 0 then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
  transition = -1
end
return {total, transition}
