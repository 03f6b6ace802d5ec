-- wrk script for `make bench` (login under load): POST /sign-in with a correct password.
-- Usage: wrk ... -H 'Cookie: auditapp_session=PRE_LOGIN' -s benchmarks/login.lua URL -- BODY [BODY ...]
-- Each BODY is a url-encoded form (email, password, csrf_token); requests cycle through them, so
-- several bodies spread the load over several users. The csrf_token is bound to the pre-login
-- session cookie, which the server never stores, so one pair serves every request.
-- A correct sign-in answers 302; anything else is counted (401 would mean a wrong password, 429 a
-- lockout, 400 a CSRF failure). Prints "BENCH_STATUS expected=302 unexpected=N first=S" for run.py.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected = 302
  unexpected = 0
  first = 0  -- first unexpected status this thread saw (0: none)
  -- wrk.format replaces wrk.headers (Host, User-Agent, the -H Cookie) when given headers: extend a copy.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  requests = {}
  for i = 1, #args do
    requests[i] = wrk.format("POST", nil, headers, args[i])
  end
  if #requests == 0 then error("login.lua needs at least one form body after --") end
  n = 0
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    if first == 0 then first = status end
  end
end

function done(summary, latency, reqs)
  local total, first_seen = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
    if first_seen == 0 then first_seen = thread:get("first") end
  end
  io.write(string.format("BENCH_STATUS expected=302 unexpected=%d first=%d\n", total, first_seen))
end
