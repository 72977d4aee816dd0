-- Confirms a held channel_vacated / member_removed at due time. The hold still standing
-- under this token means nothing came back anywhere: the event goes out (and the hold
-- ends). 'x' means the channel or user came back within the hold (neither is sent);
-- another token means it left again later and that later hold will report it. An expired
-- key (the holder was away longer than the TTL) is confirmed: at least once.
-- KEYS[1] the held key; ARGV[1] the token
-- Returns 1 to send, 0 to drop.
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if not v then
  return 1
end
return 0
