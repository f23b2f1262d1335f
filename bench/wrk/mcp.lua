-- wrk script for bench/run's MCP row: each request is a JSON-RPC tools/call of get_record on
-- POST /mcp for a subject picked at random from a file (one id per line), in a session opened
-- before the run (initialize + notifications/initialized, by bench/run), with a JSON-RPC id
-- unique within the run.
--   wrk -s mcp.lua URL -- FILE KEY SESSION_ID PROTOCOL_VERSION DATASET PURPOSE
-- MCP refusals and protocol errors come back with HTTP 200, so wrk's non-2xx count does not
-- see them: every answer is checked, and done() prints one line bench/run reads:
--   mcp answers: ok N, isError N, rpc error N, other N
-- (ok: a tool result with "isError":false and structuredContent; isError: a tool result with
-- "isError":true, a refusal; rpc error: a JSON-RPC "error" member; other: anything else, such
-- as a 202 or an empty body).
local threads = {}
local values = {}
local headers, body_head, body_mid, body_tail
local tid, seq = 0, 0
ok, is_error, rpc_error, other = 0, 0, 0, 0

function setup(thread)
   threads[#threads + 1] = thread
   thread:set("tid", #threads)
end

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then
         values[#values + 1] = line
      end
   end
   if #values == 0 then
      error("mcp.lua: no values in " .. args[1])
   end
   if args[6] == nil then
      error("mcp.lua: FILE KEY SESSION_ID PROTOCOL_VERSION DATASET PURPOSE")
   end
   headers = {
      ["Authorization"] = "Bearer " .. args[2],
      ["Mcp-Session-Id"] = args[3],
      ["MCP-Protocol-Version"] = args[4],
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
   }
   -- ids, dataset and purpose are plain ASCII without quotes or backslashes (bench/run
   -- checks the ids file); the JSON is built by concatenation
   body_head = '{"jsonrpc":"2.0","id":'
   body_mid = ',"method":"tools/call","params":{"name":"get_record","arguments":{"dataset":"'
      .. args[5] .. '","purpose":"' .. args[6] .. '","id":"'
   body_tail = '"}}}'
   math.randomseed(os.time() + tonumber(tostring(values):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
   local v = values[math.random(#values)]
   seq = seq + 1
   -- unique over the threads of this run: thread number in the high digits
   local id = string.format("%d", tid * 1000000000 + seq)
   return wrk.format("POST", "/mcp", headers, body_head .. id .. body_mid .. v .. body_tail)
end

function response(status, hdrs, body)
   if body == nil then
      other = other + 1
   elseif body:find('"isError":false', 1, true) and body:find('"structuredContent":', 1, true) then
      ok = ok + 1
   elseif body:find('"isError":true', 1, true) then
      is_error = is_error + 1
   elseif body:find('"error":{', 1, true) then
      rpc_error = rpc_error + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local n = {0, 0, 0, 0}
   for _, t in ipairs(threads) do
      n[1] = n[1] + t:get("ok")
      n[2] = n[2] + t:get("is_error")
      n[3] = n[3] + t:get("rpc_error")
      n[4] = n[4] + t:get("other")
   end
   io.write(string.format("mcp answers: ok %d, isError %d, rpc error %d, other %d\n",
                          n[1], n[2], n[3], n[4]))
end
