-- The requests of bench/reservations.py's wrk runs. That bench writes a small script per run (in a
-- temporary directory) that sets the globals below, then loads this file and wrk_report.lua (whose
-- done() prints the run's counts and latency histogram):
--   HEADERS      array of header tables, one per tenant: signed contexts, valid for 60 s, so the
--                script is written right before its run
--   MODE         "reserve" (cycle over the tenants) or "settle" (take the next hold, once each);
--                the path reservations replace, each cycling over the tenants: "guard" (the check
--                before work, POST /api/v1/cost/guard) and "record" (the cost recorded after it,
--                POST /api/v1/cost/record)
--   HOLDS_FILE   (settle) a file of the holds made beforehand, one "reservation-id tenant-index"
--                line each (tenant-index into HEADERS), in the order they are settled
--   RATE         requests per second this wrk process offers over all its connections; 0 sends
--                the next request as soon as a connection has its answer (saturating)
-- wrk loads the script in its main Lua state (done()) and in its thread's (init, request, delay).

local reserve_body = '{"estimated_cost_cents": "1"}'
local settle_body = '{"actual_cost_cents": "1"}'
local cycled = { -- the modes that cycle over the tenants: path and body
  reserve = { "/api/v1/cost/reservations", reserve_body },
  guard = { "/api/v1/cost/guard", reserve_body }, -- the same estimate
  record = { "/api/v1/cost/record", '{"model": "bench-model", "cost_cents": "1"}' },
}
local cycle_requests = {}
local holds, hold_tenant = {}, {}
local sent = 0

function init(args)
  local cycle = cycled[MODE]
  for i, headers in ipairs(HEADERS) do
    headers["Content-Type"] = "application/json"
    if cycle then
      cycle_requests[i] = wrk.format("POST", cycle[1], headers, cycle[2])
    end
  end
  if HOLDS_FILE then -- a file, not a table constructor: LuaJIT caps a chunk's constants
    for line in io.lines(HOLDS_FILE) do
      local id, tenant = line:match("^(%S+) (%d+)$")
      holds[#holds + 1] = id
      hold_tenant[#hold_tenant + 1] = tonumber(tenant)
    end
  end
end

function request()
  sent = sent + 1
  if cycled[MODE] then
    return cycle_requests[(sent - 1) % #cycle_requests + 1]
  end
  local id = holds[sent]
  if id == nil then -- out of holds: a hold that does not exist answers 404, counted as an error
    return wrk.format("POST", "/api/v1/cost/reservations/res_none/settle", HEADERS[1], settle_body)
  end
  local path = "/api/v1/cost/reservations/" .. id .. "/settle"
  return wrk.format("POST", path, HEADERS[hold_tenant[sent]], settle_body)
end

-- Paced: wrk calls delay() before each request of a connection and waits that many ms. The
-- connections share one schedule of a request every 1000 / RATE ms: each free connection takes
-- the next slot, and a slot no connection was free for is dropped, not caught up later, so the
-- offered load is RATE whenever a connection is free (the achieved rate shows when none was).
-- wrk gives Lua no wall clock finer than a second, hence clock_gettime through LuaJIT's ffi.
-- Defined only when pacing: wrk times every request through its event loop once delay() exists.
if RATE > 0 then
  local ffi = require("ffi")
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock_id, bench_timespec *now);
  ]])
  local now = ffi.new("bench_timespec")
  local interval = 1000 / RATE
  local slot = nil

  local function monotonic_ms()
    ffi.C.clock_gettime(1, now) -- CLOCK_MONOTONIC
    return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
  end

  function delay()
    local at = monotonic_ms()
    slot = slot and math.max(slot + interval, at) or at
    return math.floor(slot - at + 0.5)
  end
end
