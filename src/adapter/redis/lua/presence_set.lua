-- Sets how many sockets one user has in a presence channel on one node (absolute), and
-- decides cluster-wide whether the user just joined (first socket anywhere) or left (last
-- socket anywhere).
-- The member_removed webhook is held under a token (KEYS[4]) like channel_vacated in
-- set_count.lua; a return within the hold cancels it and the member_added webhook.
-- KEYS[1] members hash (user -> user_info JSON), KEYS[2] sockets hash (user -> total
-- sockets in the cluster), KEYS[3] this node's own hash ("channel\nuser" -> n),
-- KEYS[4] the member's held-removal key
-- ARGV[1] channel, ARGV[2] user id, ARGV[3] n, ARGV[4] user_info JSON, ARGV[5] '1' to
-- also return the roster, ARGV[6] the most members the channel may have (0: no limit),
-- ARGV[7] token for a new hold, ARGV[8] hold key TTL (ms)
-- Returns {change, webhook, roster?}: change 1 = member_added due, -1 = member_removed
-- due, 0 none, 2 = refused: a new user would exceed the member limit (nothing was
-- written); webhook 1 = member_added webhook, -1 = member_removed webhook (held), 0 none.
local field = ARGV[1] .. '\n' .. ARGV[2]
local user = ARGV[2]
local n = tonumber(ARGV[3])
local old = tonumber(redis.call('HGET', KEYS[3], field) or '0')
local before = tonumber(redis.call('HGET', KEYS[2], user) or '0')
local max = tonumber(ARGV[6] or '0')
if max > 0 and n > 0 and before <= 0 and redis.call('HLEN', KEYS[1]) >= max then
  return {2, 0}
end
local after = before + n - old
if n > 0 then
  redis.call('HSET', KEYS[3], field, n)
else
  redis.call('HDEL', KEYS[3], field)
end
local change = 0
if after > 0 then
  redis.call('HSET', KEYS[2], user, after)
  -- The latest user_info wins, as with Pusher.
  if n > 0 then
    redis.call('HSET', KEYS[1], user, ARGV[4])
  end
  if before <= 0 then
    change = 1
  end
else
  redis.call('HDEL', KEYS[2], user)
  redis.call('HDEL', KEYS[1], user)
  if before > 0 then
    change = -1
  end
end
local webhook = 0
if change == 1 then
  local held = redis.call('GET', KEYS[4])
  if held and held ~= 'x' then
    redis.call('SET', KEYS[4], 'x', 'KEEPTTL')
  else
    webhook = 1
  end
elseif change == -1 then
  redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8])
  webhook = -1
end
if ARGV[5] == '1' then
  return {change, webhook, redis.call('HGETALL', KEYS[1])}
end
return {change, webhook}
