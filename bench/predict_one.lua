-- wrk script: POST one AG News-like headline per request to /v1/predict.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"texts": ["Wall St. Bears Claw Back Into the Black (Reuters) Reuters - Short-sellers, Wall Street\'s dwindling band of ultra-cynics, are seeing green again."]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d status_errors=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
