-- wrk script: POST one execution start per request (see docs/benchmarks.md).
wrk.method = "POST"
wrk.body   = '{"input": {"n": 1}}'
wrk.headers["Content-Type"] = "application/json"
