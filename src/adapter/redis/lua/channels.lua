-- Lists occupied channels of one app whose name starts with a prefix, with their
-- cluster-wide subscription counts and, for presence channels, user counts.
-- KEYS[1] counts hash (channel -> total)
-- ARGV[1] name prefix, ARGV[2] key prefix of the app's presence member hashes ("...:pm:")
-- Returns a flat list: name, subscription_count, user_count (-1 when not presence), ...
local prefix = ARGV[1]
local plen = string.len(prefix)
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local name = all[i]
  if plen == 0 or string.sub(name, 1, plen) == prefix then
    local users = -1
    if string.sub(name, 1, 9) == 'presence-' then
      users = redis.call('HLEN', ARGV[2] .. name)
    end
    out[#out + 1] = name
    out[#out + 1] = tonumber(all[i + 1])
    out[#out + 1] = users
  end
end
return out
