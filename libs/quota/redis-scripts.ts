/**
 * The Lua that makes cluster admission atomic: one EVALSHA per reserve, one per settle, one per
 * renew. Time comes from Redis TIME so gateways with drifting clocks agree. It mirrors
 * MemoryQuotaStore line for line; every key of a request shares the `{team}` hash tag, so the
 * script also runs on Redis Cluster.
 *
 * Numbers go back as strings formatted with %.17g: Lua's tostring and cjson keep only 14 digits.
 */
const COMMON = `
local function fmt(x) return string.format('%.17g', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function floor(x) return math.floor(x) end
-- Days-from-civil (Howard Hinnant), as in calendar.ts.
local function civil(z0)
  local z = z0 + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mm = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mm + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
`;

export const RESERVE_LUA = `${COMMON}
local base = KEYS[1]
local req = cjson.decode(ARGV[1])
local now = now_ms()
local dn = floor(now / 86400000)
local y, m, d = civil(dn)
local ny, nm = y, m + 1
if nm == 13 then ny, nm = y + 1, 1 end
local day_key, month_key = 'd' .. (y * 10000 + m * 100 + d), 'm' .. (y * 100 + m)
local day_end, month_end = (dn + 1) * 86400000, days(ny, nm, 1) * 86400000
local W = 60000
local tokens = req.tokens

local function bucket(key, limit)
  local v = redis.call('HMGET', key, 'l', 't')
  local level, ts = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if limit ~= nil and limit > 0 and now > ts then
    level = math.max(0, level - (now - ts) * limit / W)
  end
  return level
end
local function save_bucket(key, level, limit)
  redis.call('HSET', key, 'l', fmt(level), 't', fmt(now))
  local rate = (limit ~= nil and limit > 0) and limit / W or 1 / W
  redis.call('PEXPIRE', key, math.ceil(level / rate) + W)
end
local function wstate(level, limit)
  if limit == nil then return nil end
  local reset = 0
  if limit > 0 then reset = math.ceil(level * W / limit) end
  return { limit = limit, remaining = math.max(0, floor(limit - level)), reset = reset }
end
local function tighter(a, b)
  if a == nil then return b end
  if b == nil then return a end
  if b.remaining ~= a.remaining then if b.remaining < a.remaining then return b end return a end
  if b.reset > a.reset then return b end
  return a
end

local st = {}
local failures = {}
for i, s in ipairs(req.scopes) do
  local p = base .. ':' .. s.id
  local l = s.l
  redis.call('ZREMRANGEBYSCORE', p .. ':conc', '-inf', now)
  local x = { p = p, l = l }
  x.conc = redis.call('ZCARD', p .. ':conc')
  x.rpm = bucket(p .. ':rpm', l.rpm)
  x.tpm = bucket(p .. ':tpm', l.tpm)
  x.day = tonumber(redis.call('GET', p .. ':' .. day_key)) or 0
  x.month = tonumber(redis.call('GET', p .. ':' .. month_key)) or 0
  st[i] = x
  if l.conc ~= nil and x.conc + 1 > l.conc then
    local r = nil
    if l.conc > 0 then r = 1000 end
    failures[#failures + 1] = { 'concurrentRequests', s.name, l.conc, r }
  end
  if l.rpm ~= nil and x.rpm + 1 > l.rpm then
    local r = nil
    if 1 <= l.rpm then r = math.ceil((x.rpm + 1 - l.rpm) * W / l.rpm) end
    failures[#failures + 1] = { 'requestsPerMinute', s.name, l.rpm, r }
  end
  if l.tpm ~= nil and x.tpm + tokens > l.tpm then
    local r = nil
    if tokens <= l.tpm then r = math.ceil((x.tpm + tokens - l.tpm) * W / l.tpm) end
    failures[#failures + 1] = { 'tokensPerMinute', s.name, l.tpm, r }
  end
  if l.day ~= nil and x.day + tokens > l.day then
    local r = nil
    if tokens <= l.day then r = day_end - now end
    failures[#failures + 1] = { 'dailyTokens', s.name, l.day, r, day_end }
  end
  if l.month ~= nil and x.month + tokens > l.month then
    local r = nil
    if tokens <= l.month then r = month_end - now end
    failures[#failures + 1] = { 'monthlyTokens', s.name, l.month, r, month_end }
  end
end

local function snapshot(applied)
  local rq, tk = nil, nil
  for i, s in ipairs(req.scopes) do
    local x = st[i]
    local r, t = x.rpm, x.tpm
    if applied then
      if s.l.rpm ~= nil then r = r + 1 end
      if s.l.tpm ~= nil then t = t + tokens end
    end
    rq = tighter(rq, wstate(r, s.l.rpm))
    tk = tighter(tk, wstate(t, s.l.tpm))
  end
  local out = {}
  if rq then out.requests = { fmt(rq.limit), fmt(rq.remaining), fmt(rq.reset) } end
  if tk then out.tokens = { fmt(tk.limit), fmt(tk.remaining), fmt(tk.reset) } end
  return out
end

if #failures > 0 then
  local worst = failures[1]
  for i = 2, #failures do
    local f = failures[i]
    if worst[4] ~= nil and (f[4] == nil or f[4] > worst[4]) then worst = f end
  end
  for i, s in ipairs(req.scopes) do
    local x = st[i]
    if s.l.rpm ~= nil then save_bucket(x.p .. ':rpm', x.rpm, s.l.rpm) end
    if s.l.tpm ~= nil then save_bucket(x.p .. ':tpm', x.tpm, s.l.tpm) end
  end
  local retry = nil
  if worst[4] ~= nil then retry = fmt(worst[4]) end
  local untl = nil
  if worst[5] ~= nil then untl = fmt(worst[5]) end
  return cjson.encode({ ok = false, limit = worst[1], scope = worst[2], value = fmt(worst[3]),
    retry = retry, ['until'] = untl, snap = snapshot(false) })
end

local charges = {}
for i, s in ipairs(req.scopes) do
  local x, l, p = st[i], s.l, st[i].p
  if l.conc ~= nil then
    redis.call('ZADD', p .. ':conc', now + req.leaseMs, req.id)
    redis.call('PEXPIRE', p .. ':conc', req.leaseMs + W)
    charges[#charges + 1] = { s.id, 'lease' }
  end
  if l.rpm ~= nil then save_bucket(p .. ':rpm', x.rpm + 1, l.rpm) end
  if l.tpm ~= nil then
    save_bucket(p .. ':tpm', x.tpm + tokens, l.tpm)
    charges[#charges + 1] = { s.id, 'tpm' }
  end
  if l.day ~= nil then
    redis.call('INCRBY', p .. ':' .. day_key, tokens)
    redis.call('PEXPIREAT', p .. ':' .. day_key, day_end + req.ttlMs)
    charges[#charges + 1] = { s.id, 'budget', day_key }
  end
  if l.month ~= nil then
    redis.call('INCRBY', p .. ':' .. month_key, tokens)
    redis.call('PEXPIREAT', p .. ':' .. month_key, month_end + req.ttlMs)
    charges[#charges + 1] = { s.id, 'budget', month_key }
  end
end
local rec = { tokens = tokens, charges = charges }
redis.call('SET', base .. ':res:' .. req.id, cjson.encode(rec), 'PX', req.ttlMs)
return cjson.encode({ ok = true, snap = snapshot(true) })
`;

export const SETTLE_LUA = `${COMMON}
local base, id = KEYS[1], ARGV[1]
local actual = tonumber(ARGV[2])
local raw = redis.call('GET', base .. ':res:' .. id)
if not raw then return false end
redis.call('DEL', base .. ':res:' .. id)
local rec = cjson.decode(raw)
local back = rec.tokens - actual
for _, c in ipairs(rec.charges) do
  local p = base .. ':' .. c[1]
  if c[2] == 'lease' then
    redis.call('ZREM', p .. ':conc', id)
  elseif c[2] == 'tpm' then
    local lv = tonumber(redis.call('HGET', p .. ':tpm', 'l'))
    if lv then redis.call('HSET', p .. ':tpm', 'l', fmt(math.max(0, lv - back))) end
  else
    local k = p .. ':' .. c[3]
    local used = tonumber(redis.call('GET', k))
    if used then
      local ttl = redis.call('PTTL', k)
      local nv = math.max(0, used - back)
      if ttl > 0 then redis.call('SET', k, fmt(nv), 'PX', ttl) else redis.call('SET', k, fmt(nv)) end
    end
  end
end
return { fmt(rec.tokens), fmt(actual) }
`;

export const RENEW_LUA = `${COMMON}
local base, id = KEYS[1], ARGV[1]
local lease = tonumber(ARGV[2])
local raw = redis.call('GET', base .. ':res:' .. id)
if not raw then return 0 end
local now = now_ms()
local alive = 1
for _, c in ipairs(cjson.decode(raw).charges) do
  if c[2] == 'lease' then
    local p = base .. ':' .. c[1] .. ':conc'
    local exp = tonumber(redis.call('ZSCORE', p, id))
    if exp == nil or exp <= now then alive = 0 else
      redis.call('ZADD', p, now + lease, id)
      redis.call('PEXPIRE', p, lease + 60000)
    end
  end
end
return alive
`;
