-- wrk script for `make bench` (GET pages): count responses whose status is not the expected one.
-- Usage: wrk ... -s benchmarks/status.lua URL -- EXPECTED_STATUS
-- wrk itself only flags statuses outside 2xx/3xx, so a lost session (302 to /sign-in) would pass
-- unnoticed; this does not. Prints "BENCH_STATUS expected=E unexpected=N first=S" for run.py.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected = tonumber(args[1]) or 200
  unexpected = 0
  first = 0  -- first unexpected status this thread saw (0: none)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    if first == 0 then first = status end
  end
end

function done(summary, latency, requests)
  local total, first_seen = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
    if first_seen == 0 then first_seen = thread:get("first") end
  end
  io.write(string.format("BENCH_STATUS expected=%d unexpected=%d first=%d\n",
    threads[1]:get("expected"), total, first_seen))
end
