-- Read by bench/load_generators.py: at the end of a wrk run, one line holding the run's counts
-- and every (latency in µs, count) bucket of wrk's histogram, so that the benchmark can pool the
-- latencies of several rounds exactly instead of averaging their percentiles.
done = function(summary, latency, requests)
  local errors = summary.errors
  local buckets = {}
  for i = 1, #latency do
    local value, count = latency(i)
    if count > 0 then
      buckets[#buckets + 1] = string.format("[%d,%d]", value, count)
    end
  end
  io.write(string.format(
    'WRK_REPORT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,'
      .. '"latency_us":[%s]}\n',
    summary.requests,
    summary.duration,
    errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(buckets, ",")
  ))
end
