/// The Lua script the Redis baseline runs: what teams build instead of Gatehouse.
///
/// `gatehouse-bench --print-lua-script` prints it, so `bench/compare` loads the very same
/// script into Redis for `redis-benchmark`.
enum LuaKeyCheck {
    static let script = #"""
-- What teams build instead of Gatehouse: an API-key check in a Redis Lua script.
-- ARGV[1] = the presented key, ARGV[2] = the required scope (may be empty).
-- Keys are stored as hashes under "gk:" .. sha1hex(key) with the fields
-- enabled, revoked, expires_at (ms, 0 = never), scopes (comma-separated, "x:*" wildcards),
-- limit, window_ms, id, owner. The rate limit is a sliding-window counter (previous fixed
-- window weighted by its overlap plus the current one), in the same script.
-- Returns {1, "VALID", id, owner, limit, remaining} or {0, CODE}.
local record = "gk:" .. redis.sha1hex(ARGV[1])
local f = redis.call("HMGET", record, "enabled", "revoked", "expires_at", "scopes", "limit", "window_ms", "id", "owner")
if not f[1] then return {0, "NOT_FOUND"} end
if f[2] == "1" then return {0, "REVOKED"} end
if f[1] ~= "1" then return {0, "DISABLED"} end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = tonumber(f[3] or "0")
if expires > 0 and now >= expires then return {0, "EXPIRED"} end
local scope = ARGV[2]
if scope and scope ~= "" then
  local ok = false
  for granted in string.gmatch(f[4] or "", "[^,]+") do
    if granted == scope then ok = true break end
    if string.sub(granted, -1) == "*" then
      local stem = string.sub(granted, 1, -2)
      if string.sub(scope, 1, #stem) == stem then ok = true break end
    end
  end
  if not ok then return {0, "INSUFFICIENT_SCOPE"} end
end
local limit = tonumber(f[5])
local window = tonumber(f[6])
local index = math.floor(now / window)
local current = record .. ":w:" .. index
local previous = record .. ":w:" .. (index - 1)
local c = tonumber(redis.call("GET", current) or "0")
local p = tonumber(redis.call("GET", previous) or "0")
local elapsed = now - index * window
local estimate = p * (window - elapsed) / window + c
if estimate + 1 > limit then return {0, "RATE_LIMITED", f[7], limit, 0} end
redis.call("INCR", current)
redis.call("PEXPIRE", current, window * 2)
return {1, "VALID", f[7], f[8], limit, math.floor(limit - estimate - 1)}
"""#

    /// Redis hash holding a key's record: `gk:` + SHA-1 of the key, as the script computes it.
    static func recordName(sha1Hex: String) -> String { "gk:" + sha1Hex }
}
