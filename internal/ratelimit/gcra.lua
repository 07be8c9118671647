-- GCRA token bucket; the same computation as decide in gcra.go, in
-- microseconds since the epoch in redis.go (small enough for exact doubles).
-- KEYS[1]  the bucket: its value is the theoretical arrival time (TAT)
-- ARGV[1]  N, the burst
-- ARGV[2]  Per in microseconds
-- ARGV[3]  cost in tokens; 0 only looks (Peek)
-- ARGV[4]  now in microseconds, or "" to use the server's clock (production),
--          so that instances with skewed clocks agree
-- Returns {allowed (0|1), remaining, reset µs, retry-after µs}, rounded up.
local limit = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now
if ARGV[4] == "" then
  local t = redis.call("TIME")
  now = (tonumber(t[1]) - 1735689600) * 1000000 + tonumber(t[2]) -- redisEpoch
else
  now = tonumber(ARGV[4])
end

local epsilon = 1e-6
local interval = per / limit
local tat = tonumber(redis.call("GET", KEYS[1]) or now) or now
if tat < now then
  tat = now
end
local avail = (per - (tat - now)) / interval
local cost = math.max(n, 1)
local allowed, retry = 0, 0
if avail + epsilon >= cost then
  allowed = 1
  if n > 0 then
    tat = tat + cost * interval
    avail = avail - cost
    -- Expire the bucket when it is full again: a missing bucket is full.
    redis.call("SET", KEYS[1], tat, "PX", math.ceil((tat - now) / 1000))
  end
else
  retry = math.max(math.ceil(tat - now + cost * interval - per), 1)
end
local remaining = math.min(math.max(math.floor(avail + epsilon), 0), limit)
return {allowed, remaining, math.ceil(tat - now), retry}
