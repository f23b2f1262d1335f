-- wrk script for bench/run: each request substitutes "{v}" in a path (and optional body)
-- template with a value picked at random from a file (one value per line), so that requests
-- spread over many subjects instead of hitting one cached record.
--   wrk -s pick.lua URL -- FILE KEY METHOD PATH_TEMPLATE [BODY_TEMPLATE]
-- KEY is sent as "Authorization: Bearer KEY" ("-" sends none).
local values = {}
local key, method, path_t, body_t, headers

local function subst(t, v)
   return (t:gsub("{v}", function() return v end))
end

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then
         values[#values + 1] = line
      end
   end
   if #values == 0 then
      error("pick.lua: no values in " .. args[1])
   end
   key, method, path_t, body_t = args[2], args[3], args[4], args[5]
   headers = {}
   if key ~= "-" then
      headers["Authorization"] = "Bearer " .. key
   end
   if body_t ~= nil then
      headers["Content-Type"] = "application/json"
   end
   -- a different sequence per thread and per run
   math.randomseed(os.time() + tonumber(tostring(values):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
   local v = values[math.random(#values)]
   local body = nil
   if body_t ~= nil then
      body = subst(body_t, v)
   end
   return wrk.format(method, subst(path_t, v), headers, body)
end
