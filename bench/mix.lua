-- wrk script for the benchmark's request mix.
-- Usage: wrk -s bench/mix.lua URL DATA_FILE THREADS
-- DATA_FILE is written by bench/mix.py: the very requests the benchmark checked against the mock.
-- done() prints one "BENCH_RESULT {json}" line that bench/wrk.py reads (times in microseconds).

local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

function init(args)
  mix = dofile(args[1])
  threads = tonumber(args[2])
  prepared = {}
  for i, e in ipairs(mix.errors) do
    prepared[i] = wrk.format("POST", mix.path, e.headers, e.body)
  end
  -- Threads start at different points of the schedule so that their error requests do not line up.
  slot = (thread_id * 7) % #mix.schedule
  writes = 0
  if os.getenv("BENCH_STATIC") == "1" then
    wrk.method, wrk.path, wrk.body = "POST", mix.path, mix.valid_prefix .. mix.euid_base .. mix.valid_suffix
    for name, value in pairs(mix.valid_headers) do
      wrk.headers[name] = value  -- into wrk's own table, which holds the Host header already
    end
  end
end

-- BENCH_STATIC=1 (the example workload: one request, over and over): no request() at all, so wrk
-- builds the request once per thread from init() and runs no Lua per request. The Lua call and
-- wrk.format per request cost wrk about a fifth of its CPU, which on two cores the server lacks.
if os.getenv("BENCH_STATIC") ~= "1" then
function request()
  slot = slot % #mix.schedule + 1
  local kind = mix.schedule[slot]
  if kind > 0 then
    return prepared[kind]
  end
  -- Threads interleave over the euid pool: every valid write goes to another user than the last.
  writes = writes + 1
  local euid = mix.euid_base + (writes * threads + thread_id) % mix.euid_pool
  return wrk.format("POST", mix.path, mix.valid_headers, mix.valid_prefix .. euid .. mix.valid_suffix)
end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
