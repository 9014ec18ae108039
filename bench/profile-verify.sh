#!/usr/bin/env bash
# Where a node's CPU goes under VERIFY load: perf record (cpu-clock, call graphs) of a release
# `gatehouse serve` while redis-benchmark -c 50 sends VERIFY at the given pipeline depth, then
# the top symbols by self time and the top call chains by inclusive time.
#   bench/profile-verify.sh [BIN_DIR] [PIPELINE] [OUT_DIR]     (defaults .build-release/release 16 /tmp/profile-verify)
#   VERIFY_FIELDS=code,remaining bench/profile-verify.sh   (VERIFY … FIELDS code,remaining: the compact reply)
# Needs perf (Debian: linux-perf) and redis-benchmark (redis-tools).
set -euo pipefail
bin=${1:-.build-release/release}
pipeline=${2:-16}
out=${3:-/tmp/profile-verify}
command -v perf >/dev/null || { echo "needs perf: apt-get install linux-perf" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark: apt-get install redis-tools" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rpc=$(free_port); http=$(free_port)
work=$(mktemp -d)
mkdir -p "$out"
GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789 "$bin/gatehouse" serve --rpc 127.0.0.1:$rpc --http 127.0.0.1:$http --grpc off \
    --data-dir "$work/data" --log-level warning ${SERVE_ARGS:-} >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$http/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$(curl -sf -X POST http://127.0.0.1:$http/v1/keys -H "Authorization: Bearer bench-admin-token-0123456789" \
  -d '{"name":"b","scopes":["read","orders:*"],"limits":[{"name":"b","limit":1000000000000,"window_ms":3600000}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
n=1500000; [ "$pipeline" = 1 ] && n=200000
fields=()
[ -n "${VERIFY_FIELDS:-}" ] && fields=(FIELDS "$VERIFY_FIELDS")
redis-benchmark -p $rpc -c 50 -n 100000 -P "$pipeline" -q VERIFY "$key" SCOPE orders:read "${fields[@]}" >/dev/null 2>&1
perf record -e cpu-clock -g -p $pid -o "$out/perf.data" 2>"$out/record.log" &
perf_pid=$!
sleep 0.5
redis-benchmark -p $rpc -c 50 -n $n -P "$pipeline" --csv VERIFY "$key" SCOPE orders:read "${fields[@]}" 2>/dev/null | tail -1
kill -INT $perf_pid; wait $perf_pid 2>/dev/null || true
# Symbols demangled, trailing padding dropped; `|| true`: head closing the pipe early is fine.
report() { perf report -i "$out/perf.data" --sort symbol --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' |
    sed 's/ *$//; s/  *- *- *$//' | swift demangle --simplified | head -50 || true; }
report --no-children --percent-limit 0.6 >"$out/self.txt"
report --children --percent-limit 2 >"$out/inclusive.txt"
echo "self time:"; cat "$out/self.txt"
echo "inclusive:"; cat "$out/inclusive.txt"
