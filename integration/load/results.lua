-- results.lua: the done() hook every load script shares. It prints one
-- machine-readable line that run.sh collects and loadtool report reads:
--   RESULT <requests/s> <p50 µs> <p99 µs> <requests> <errors>
-- errors counts socket errors, timeouts and responses with status >= 400.
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT %.1f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.requests, errors))
end
