#!/usr/bin/env bash
# DESIGN §8: "p99 latency at half of peak load: < 1 ms on loopback". Starts a release node,
# measures its peak with gatehouse-bench closed loop (-c 50 -P 1, VERIFY over 1000 keys), then
# runs open loop at half that rate (latency counted from each request's due time, so a stall
# shows as latency, not as fewer requests) and prints both, with the JSON in $out.
# The peak is taken without pipelining because the open loop sends each request when it is
# due, one write per request, as a gateway does: a pipelined peak is not reachable that way.
#   bench/latency-at-half-peak.sh [BIN_DIR] [OUT_DIR]     (defaults .build-release/release, bench/results)
set -euo pipefail
bin=${1:-.build-release/release}
out=${2:-bench/results}
[ -x "$bin/gatehouse-bench" ] || { echo "needs $bin/gatehouse-bench: swift build -c release --scratch-path .build-release" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rpc=$(free_port); http=$(free_port)
work=$(mktemp -d)
export GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789
"$bin/gatehouse" serve --rpc 127.0.0.1:$rpc --http 127.0.0.1:$http --data-dir "$work/data" --log-level warning >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
run() { "$bin/gatehouse-bench" --address 127.0.0.1:$rpc --admin 127.0.0.1:$http --keys 1000 -c 50 --quiet --server-build release "$@"; }
mkdir -p "$out"
run -P 1 -d 10 --warmup 2 --json-file "$out/half-peak-closed.json" >"$work/closed.txt"
peak=$(python3 -c "import json; print(int(json.load(open('$out/half-peak-closed.json'))['results']['throughput']))")
half=$((peak / 2))
run -P 16 -d 20 --warmup 2 --rate $half --json-file "$out/half-peak-open.json" >"$work/open.txt"
python3 - "$out/half-peak-closed.json" "$out/half-peak-open.json" <<'PY'
import json, sys
closed, opened = (json.load(open(p)) for p in sys.argv[1:])
print("| run | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | lost |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, r in (("closed loop -c 50 -P 1 (peak)", closed), ("open loop at half of peak", opened)):
    res = r["results"]; l = res["latency_us"]
    print(f"| {name} | {res['throughput']:,.0f} | {l['p50']/1000:.3f} | {l['p99']/1000:.3f} | {l['p999']/1000:.3f} | {l['max']/1000:.3f} | {res['errors']} | {res['lost']} |")
PY
