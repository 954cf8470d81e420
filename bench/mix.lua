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
end

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

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
