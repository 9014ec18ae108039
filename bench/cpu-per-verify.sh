#!/usr/bin/env bash
# Server CPU per VERIFY: server CPU time (user+sys, from /proc/PID/stat) per VERIFY over 1,500,000 VERIFY at -P 16 and 200,000 at -P 1 (-c 50)
# the speed log in bench/README.md uses it because on this shared 2-core machine req/s swings by
# ±30 % between identical runs, while CPU time per request moves far less.
#   bench/cpu-per-verify.sh [BIN_DIR]     (default .build-release/release)
#   SERVE_ARGS="--access-log-resp full" bench/cpu-per-verify.sh    (extra arguments of gatehouse serve)
#   KEY_BODY='{"name":"b","scopes":["read","orders:*"],"limits":[{"name":"b","limit":1,"window_ms":3600000}]}' bench/cpu-per-verify.sh
#       (the key to verify: this one is refused RATE_LIMITED after its first VERIFY, the path
#       that feeds the security events' per-key aggregation)
#   VERIFY_FIELDS=code,remaining bench/cpu-per-verify.sh            (VERIFY … FIELDS code,remaining: the compact reply)
#   VERIFY_RID=req-0123456789abcdef bench/cpu-per-verify.sh          (VERIFY … RID id: the id checked and echoed as request_id)
set -euo pipefail
bin=${1:-.build-release/release}
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark: apt-get install redis-tools" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rpc=$(free_port); http=$(free_port)
work=$(mktemp -d)
GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789 $bin/gatehouse serve --rpc 127.0.0.1:$rpc --http 127.0.0.1:$http --grpc off --data-dir $work/data --log-level warning ${SERVE_ARGS:-} >$work/log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $work' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$http/healthz >/dev/null 2>&1 && break; sleep 0.1; done
default_key_body='{"name":"b","scopes":["read","orders:*"],"limits":[{"name":"b","limit":1000000000000,"window_ms":3600000}]}'
key_body=${KEY_BODY:-$default_key_body}
key=$(curl -sf -X POST http://127.0.0.1:$http/v1/keys -H "Authorization: Bearer bench-admin-token-0123456789" \
  -d "$key_body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
fields=()
[ -n "${VERIFY_FIELDS:-}" ] && fields=(FIELDS "$VERIFY_FIELDS")
[ -n "${VERIFY_RID:-}" ] && fields+=(RID "$VERIFY_RID")
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)
redis-benchmark -p $rpc -c 50 -n 200000 -P 16 -q VERIFY $key SCOPE orders:read "${fields[@]}" >/dev/null 2>&1
for p in 16 1; do
  n=1500000; [ $p = 1 ] && n=200000
  before=$(ticks)
  rps=$(redis-benchmark -p $rpc -c 50 -n $n -P $p --csv VERIFY $key SCOPE orders:read "${fields[@]}" 2>/dev/null | tail -1 | python3 -c 'import csv,sys; print(next(csv.reader(sys.stdin))[1])')
  after=$(ticks)
  python3 -c "print('$(basename $bin)${VERIFY_FIELDS:+ FIELDS $VERIFY_FIELDS}${VERIFY_RID:+ RID} -P $p: server CPU %.2f us/VERIFY  (%s req/s)' % (($after-$before)/$hz*1e6/$n, $rps))"
done
