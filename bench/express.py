#!/usr/bin/env python3
"""The Express benchmark: the peer benchmark's 3-step wasm pipeline
(../shared/bench/peer-pipeline/) as an EXPRESS workflow started with
StartSyncExecution (AWS JSON 1.0), side by side in one run with the same
pipeline as a STANDARD workflow started with `?wait=10`, through the same
client (wrk), on one `sluice serve --durability power`.

    cargo build --release --bin sluice
    python3 bench/express.py --sluice "$CARGO_TARGET_DIR/release/sluice"

Prints the figures for docs/benchmarks.md: requests/s, p50 and p99 at 1 and
64 connections per case, and the two ratios the goal is stated in (EXPRESS
p50 at one connection <= 1 ms; EXPRESS throughput at 64 connections beside
STANDARD's). Before and after the load it checks that every execution of
both workflows SUCCEEDED with the right output. Needs wrk and cargo with
the wasm32-wasip1 target. Loopback only; stops by itself."""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(ROOT, "..", "shared", "bench", "peer-pipeline")
EXPECTED = {"n": 7, "tag": "x", "double": 14, "done": True}

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--sluice", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "sluice"))
ap.add_argument("--peer", default=PEER, help="the peer benchmark's folder (pipeline and wasm step)")
ap.add_argument("--secs", type=int, default=6, help="seconds per measured case")
args = ap.parse_args()
if not shutil.which("wrk"):
    sys.exit("wrk is not installed here (apt-get install wrk)")
if not os.access(args.sluice, os.X_OK):
    sys.exit(f"no sluice binary at {args.sluice}: cargo build --release --bin sluice")

wasm_target = os.path.join(tempfile.gettempdir(), "sluice-bars", "peer-step-target")
subprocess.run(["cargo", "build", "-q", "--release", "--target", "wasm32-wasip1"], cwd=os.path.join(args.peer, "step"),
               env={**os.environ, "CARGO_TARGET_DIR": wasm_target}, check=True)
wasm = os.path.join(wasm_target, "wasm32-wasip1", "release", "peer-step.wasm")
pipeline = json.load(open(os.path.join(args.peer, "pipeline.asl.json")))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def call(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


SYNC = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "AWSStepFunctions.StartSyncExecution"}
ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:pipe-x"


def wrk(url, body, c, headers):
    t = "1" if c < 2 else "2"
    lua = os.path.join(HERE, "wrk", "post.lua")
    env = {**os.environ, "BODY": body, "HEADERS": json.dumps(headers)}
    r = subprocess.run(["wrk", "-t" + t, "-c" + str(c), "-d%ds" % args.secs, "--latency", "-s", lua, url],
                       env=env, capture_output=True, text=True, timeout=args.secs + 30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    unit = {"us": 0.001, "ms": 1, "s": 1000}
    lat = {q: float(m.group(1)) * unit[m.group(2)] for q in ("50", "99")
           for m in [re.search(q + r"%\s+([\d.]+)(us|ms|s)", r.stdout)]}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    return rps, lat["50"], lat["99"], int(bad.group(1)) if bad else 0


def all_succeeded(base, workflow):
    """Every execution of the workflow, page by page: (count, wrong)."""
    count, wrong, token = 0, 0, None
    while True:
        q = f"/api/v1/executions?workflow={workflow}&limit=1000" + (f"&nextToken={token}" if token else "")
        page = call(base, "GET", q)
        for e in page["executions"]:
            count += 1
            wrong += e["status"] != "SUCCEEDED" or e.get("output", {}).get("done") is not True
        token = page.get("nextToken")
        if not token:
            return count, wrong


data = tempfile.mkdtemp(prefix="sluice-express-bench-")
fdir = os.path.join(data, "functions")
os.makedirs(fdir)
json.dump({"name": "step", "runtime": "wasm", "module": wasm, "codeDir": os.path.dirname(wasm), "timeoutSeconds": 10,
           "concurrency": 256}, open(os.path.join(fdir, "step.json"), "w"))
port = free_port()
base = f"http://127.0.0.1:{port}"
log = open(os.path.join(data, "serve.log"), "wb")
proc = subprocess.Popen([args.sluice, "serve", "--data", os.path.join(data, "store"), "--listen", f"127.0.0.1:{port}",
                         "--functions", fdir, "--durability", "power"], stdout=log, stderr=log, start_new_session=True)
try:
    for _ in range(150):
        try: urllib.request.urlopen(base + "/healthz", timeout=1); break
        except Exception:
            if proc.poll() is not None: sys.exit(f"sluice serve exited with {proc.returncode}; see {data}/serve.log")
            time.sleep(0.2)
    call(base, "PUT", "/api/v1/workflows/pipe", pipeline)
    call(base, "PUT", "/api/v1/workflows/pipe-x?type=EXPRESS", pipeline)
    std = call(base, "POST", "/api/v1/workflows/pipe/executions?wait=10", {"input": {"n": 7}})
    exp = call(base, "POST", "/", {"stateMachineArn": ARN, "input": '{"n": 7}'}, SYNC)
    if std.get("output") != EXPECTED or exp.get("status") != "SUCCEEDED" or json.loads(exp["output"]) != EXPECTED:
        sys.exit(f"the pipeline does not run: {std} / {exp}")
    cases = [
        ("STANDARD, REST ?wait=10", base + "/api/v1/workflows/pipe/executions?wait=10", '{"input":{"n":7}}', {"Content-Type": "application/json"}),
        ("EXPRESS, StartSyncExecution", base + "/", json.dumps({"stateMachineArn": ARN, "input": '{"n":7}'}),
         {"Content-Type": SYNC["content-type"], "X-Amz-Target": SYNC["x-amz-target"]}),
    ]
    res = {}
    for name, url, body, headers in cases:
        wrk(url, body, 8, headers)  # warm-up
        res[name] = {c: wrk(url, body, c, headers) for c in (1, 64)}
    checks = {w: all_succeeded(base, w) for w in ("pipe", "pipe-x")}
finally:
    os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(10)
    except Exception: os.killpg(proc.pid, signal.SIGKILL)
    shutil.rmtree(data, ignore_errors=True)

print("| case | connections | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---:|---:|---:|---:|---:|")
for name, by_c in res.items():
    for c, (rps, p50, p99, bad) in by_c.items():
        print(f"| {name} | {c} | {rps:.0f} | {p50:.3f} | {p99:.3f} | {bad} |")
for w, (n, wrong) in checks.items():
    print(f"{w}: {n} executions, {wrong} not SUCCEEDED with the right output")
s, e = res[cases[0][0]], res[cases[1][0]]
print(f"EXPRESS p50 at c=1: {e[1][1]:.3f} ms (goal <= 1 ms); EXPRESS/STANDARD throughput at c=64: {e[64][0] / s[64][0]:.1f}x; "
      f"p50 at c=1 {e[1][1] / s[1][1]:.2f}x")
bad = sum(r[3] for by_c in res.values() for r in by_c.values()) + sum(w for _, w in checks.values())
sys.exit(0 if e[1][1] <= 1.0 and bad == 0 else 1)
