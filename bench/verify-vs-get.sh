#!/usr/bin/env bash
# Quick side-by-side on this machine: redis-benchmark against Redis GET and Gatehouse VERIFY,
# same flags, same run. Needs redis-server and redis-benchmark (Debian: redis-server,
# redis-tools) and a release build:
#   swift build -c release --scratch-path .build-release
#   bench/verify-vs-get.sh [-n 200000] [-c 50]
# The full harness (Lua baseline, our own load generator, JSON) is bench/compare.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=200000
clients=50
while [ $# -gt 0 ]; do
    case "$1" in
        -n) requests=$2; shift 2 ;;
        -c) clients=$2; shift 2 ;;
        *) echo "usage: $0 [-n requests] [-c clients]" >&2; exit 64 ;;
    esac
done
binary=.build-release/release/gatehouse
[ -x "$binary" ] || { echo "build first: swift build -c release --scratch-path .build-release" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
    echo "needs redis-server and redis-benchmark: apt-get install redis-server redis-tools" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
redis_port=$(free_port); rpc_port=$(free_port); http_port=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789 "$binary" serve --rpc "127.0.0.1:$rpc_port" \
    --http "127.0.0.1:$http_port" --data-dir "$work/data" --log-level warning >"$work/gatehouse.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    redis-cli -p "$rpc_port" PING >/dev/null 2>&1 && redis-cli -p "$redis_port" PING >/dev/null 2>&1 && break
    sleep 0.1
done
key=$(curl -s -X POST "http://127.0.0.1:$http_port/v1/keys" -H "Authorization: Bearer bench-admin-token-0123456789" \
    -d '{"name":"bench","limits":[{"name":"huge","limit":1000000000000,"window_ms":3600000}]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
redis-cli -p "$redis_port" SET bench:key "$key" >/dev/null

run() { # label port pipeline command...
    local label=$1 port=$2 pipeline=$3; shift 3
    local line
    line=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -n "$requests" -P "$pipeline" -q "$@" 2>/dev/null | tr '\r' '\n' | grep "requests per second" | tail -1)
    printf '%-28s -P %-3s %s\n' "$label" "$pipeline" "${line#*: }"
}
echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short HEAD)  cores: $(nproc)  -c $clients -n $requests"
for pipeline in 1 16; do
    run "redis GET" "$redis_port" "$pipeline" GET bench:key
    run "gatehouse VERIFY" "$rpc_port" "$pipeline" VERIFY "$key"
done
