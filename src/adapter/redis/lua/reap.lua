-- Removes a dead node's share of one app's state: its subscription counts, its connection
-- count, its presence sockets and its signed-in users. Does nothing if the node's heartbeat is back (it
-- then rebuilds its share itself), so a reap can never undo a live node's state.
-- Channels left empty and members left without sockets get a held webhook (as in
-- set_count.lua / presence_set.lua) under ARGV[3], confirmed later by the reaping node.
-- KEYS[1] the dead node's heartbeat key
-- ARGV[1] the app's key prefix ("{prefix}:app:"), ARGV[2] the dead instance id,
-- ARGV[3] token for the holds, ARGV[4] hold key TTL (ms)
-- Returns {members_removed_flat (channel, user, ...), users_offline, channels_vacated}
-- or 'alive'.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'alive'
end
local p = ARGV[1]
local inst = ARGV[2]

local own = p .. 'own:' .. inst
local counts = p .. 'counts'
local vacated = {}
local shares = redis.call('HGETALL', own)
for i = 1, #shares, 2 do
  local total = tonumber(redis.call('HGET', counts, shares[i]) or '0') - tonumber(shares[i + 1])
  if total > 0 then
    redis.call('HSET', counts, shares[i], total)
  else
    if redis.call('HDEL', counts, shares[i]) == 1 then
      redis.call('SET', p .. 'hc:' .. shares[i], ARGV[3], 'PX', ARGV[4])
      vacated[#vacated + 1] = shares[i]
    end
  end
end
redis.call('DEL', own)

local cown = p .. 'cown:' .. inst
local conns = p .. 'conns'
local mine = tonumber(redis.call('HGET', cown, 'n') or '0')
if mine > 0 then
  local left = tonumber(redis.call('HGET', conns, 'n') or '0') - mine
  if left > 0 then
    redis.call('HSET', conns, 'n', left)
  else
    redis.call('HDEL', conns, 'n')
  end
end
redis.call('DEL', cown)

local removed = {}
local pown = p .. 'pown:' .. inst
local sockets = redis.call('HGETALL', pown)
for i = 1, #sockets, 2 do
  local sep = string.find(sockets[i], '\n', 1, true)
  local channel = string.sub(sockets[i], 1, sep - 1)
  local user = string.sub(sockets[i], sep + 1)
  local ps = p .. 'ps:' .. channel
  local total = tonumber(redis.call('HGET', ps, user) or '0') - tonumber(sockets[i + 1])
  if total > 0 then
    redis.call('HSET', ps, user, total)
  else
    redis.call('HDEL', ps, user)
    if redis.call('HDEL', p .. 'pm:' .. channel, user) == 1 then
      redis.call('SET', p .. 'hm:' .. channel .. '\n' .. user, ARGV[3], 'PX', ARGV[4])
      removed[#removed + 1] = channel
      removed[#removed + 1] = user
    end
  end
end
redis.call('DEL', pown)

local offline = {}
local uown = p .. 'uown:' .. inst
local usersk = p .. 'users'
local users = redis.call('HGETALL', uown)
for i = 1, #users, 2 do
  local total = tonumber(redis.call('HGET', usersk, users[i]) or '0') - tonumber(users[i + 1])
  if total > 0 then
    redis.call('HSET', usersk, users[i], total)
  else
    if redis.call('HDEL', usersk, users[i]) == 1 then
      offline[#offline + 1] = users[i]
    end
  end
end
redis.call('DEL', uown)
return {removed, offline, vacated}
