#!/usr/bin/env bash
# Issue 10's hostile-client figures on one node (defaults from NodeConfig):
#  1. a client pipelining cheap commands (VERIFY and PING) for 20 s that never reads its
#     replies: node RSS growth (< 64 MiB) and another client's PING latency meanwhile (< 10 ms);
#  2. 300 connections per client port (RESP, HTTP) that send half a frame and stall: RSS while
#     they are held (< 32 MiB together) and whether the frame deadline closed them all.
#   bench/slow-reader.sh [BIN_DIR]     (default .build-release/release)
set -euo pipefail
bin=${1:-.build-release/release}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rpc=$(free_port); http=$(free_port)
work=$(mktemp -d)
admin=bench-admin-token-0123456789
GATEHOUSE_ADMIN_TOKEN=$admin $bin/gatehouse serve --rpc 127.0.0.1:$rpc --http 127.0.0.1:$http --data-dir $work/data --log-level warning >$work/log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $work' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$http/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$(curl -sf -X POST http://127.0.0.1:$http/v1/keys -H "Authorization: Bearer $admin" \
  -d '{"name":"b","limits":[{"name":"b","limit":1000000000000,"window_ms":3600000}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
python3 - "$pid" "$rpc" "$http" "$key" <<'PY'
import socket, sys, threading, time
pid, rpc, http, key = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def metric(name):
    s = socket.create_connection(("127.0.0.1", http)); s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536): data += chunk
    s.close()
    for line in data.decode().splitlines():
        if line.startswith(name + " "): return float(line.split()[-1])
    return 0.0

def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

# 1. the client that never reads
chunk = (command(b"VERIFY", key.encode()) + command(b"PING")) * 256
base = rss_mib()
stop = time.monotonic() + 20
flooder = socket.socket(); flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
flooder.connect(("127.0.0.1", rpc)); flooder.settimeout(0.05)
sent = [0]; peak = [base]; closed = [False]
def flood():
    while time.monotonic() < stop:
        try:
            sent[0] += flooder.send(chunk)
        except socket.timeout:
            pass
        except OSError:
            closed[0] = True; return
threading.Thread(target=flood, daemon=True).start()
probe = socket.create_connection(("127.0.0.1", rpc)); probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
latencies = []
while time.monotonic() < stop:
    t = time.perf_counter(); probe.sendall(b"PING\r\n"); reply = probe.recv(64)
    assert reply == b"+PONG\r\n", reply
    latencies.append((time.perf_counter() - t) * 1000)
    peak[0] = max(peak[0], rss_mib()); time.sleep(0.02)
latencies.sort()
print(f"non-reading pipeliner, 20 s: sent {sent[0]/2**20:.1f} MiB of commands; node RSS {base:.1f} -> peak {peak[0]:.1f} MiB (growth {peak[0]-base:.1f} MiB); "
      f"other client's PING p50 {latencies[len(latencies)//2]:.2f} ms, p99 {latencies[int(len(latencies)*0.99)]:.2f} ms, max {latencies[-1]:.2f} ms over {len(latencies)} PINGs; "
      f"flooder closed by node during the 20 s: {closed[0]}")
flooder.close(); probe.close()

# 2. 300 half frames per port
time.sleep(1)
base = rss_mib()
held = []
for _ in range(300):
    r = socket.create_connection(("127.0.0.1", rpc)); r.sendall(b"*2\r\n$6\r\nVERIFY\r\n$40\r\ngk_"); held.append(r)
    h = socket.create_connection(("127.0.0.1", http)); h.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ke"); held.append(h)
time.sleep(1)
during = rss_mib()
start = time.monotonic(); open_ = len(held)
for s in held: s.settimeout(0.01)
while open_ and time.monotonic() - start < 30:
    open_ = 0
    for s in held:
        try:
            if s.recv(1) != b"": open_ += 1
        except socket.timeout:
            open_ += 1
        except OSError:
            pass
    time.sleep(0.2)
resp_closed = metric('gatehouse_connections_closed_total{listener="resp",reason="frame_timeout"}')
http_closed = metric('gatehouse_connections_closed_total{listener="http",reason="frame_timeout"}')
print(f"300 half frames on RESP + 300 on HTTP: node RSS {base:.1f} -> {during:.1f} MiB while held (+{during-base:.1f} MiB); "
      f"still open {time.monotonic()-start+1:.0f} s after sending: {open_}; "
      f"frame_timeout closes: resp {resp_closed:.0f}, http {http_closed:.0f}")
PY
