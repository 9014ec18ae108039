#!/usr/bin/env python3
"""Revocation latency on real processes: starts N nodes of a generated cluster config
(default timing) on free loopback ports; per trial creates a key on one node, waits until
every node answers VALID, revokes it on another node, and measures the time until every
node answers REVOKED (polling VERIFY over RESP on persistent connections).

Usage: bench/revocation-latency.py [--nodes 3] [--trials 50] [--binary .build-release/release/gatehouse]
"""
import argparse, json, os, random, socket, subprocess, tempfile, time, urllib.request

TOKEN = "revocation-bench-admin-token-0123456789"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RESP:
    """A minimal RESP2 client for VERIFY: reads the flat field/value array, returns the code."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def verify(self, key):
        self.sock.sendall(f"*2\r\n$6\r\nVERIFY\r\n${len(key)}\r\n{key}\r\n".encode())
        header = self.file.readline()
        assert header.startswith(b"*"), header
        items = []
        for _ in range(int(header[1:])):
            line = self.file.readline()
            if line.startswith(b"$"):
                length = int(line[1:])
                items.append(None if length < 0 else self.file.read(length + 2)[:-2].decode())
            elif line.startswith(b"*"):
                for _ in range(int(line[1:])):
                    inner = self.file.readline()
                    if inner.startswith(b"$") and int(inner[1:]) >= 0:
                        self.file.read(int(inner[1:]) + 2)
                items.append("[...]")
            else:
                items.append(line[1:].strip().decode())
        return dict(zip(items[::2], items[1::2]))["code"]


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


def until(clients, key, code, limit=10):
    start = time.perf_counter()
    pending = set(range(len(clients)))
    while pending and time.perf_counter() - start < limit:
        for index in list(pending):
            if clients[index].verify(key) == code:
                pending.discard(index)
    return None if pending else time.perf_counter() - start


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(round((len(values) - 1) * fraction)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--binary", default=".build-release/release/gatehouse")
    args = parser.parse_args()
    work = tempfile.mkdtemp()
    nodes = [{"id": f"n{i}", "rpc": free_port(), "http": free_port(), "gossip": free_port()} for i in range(1, args.nodes + 1)]
    lines = ['pepper: "revocation-bench-pepper-0123456789abcdef"', f'admin_token: "{TOKEN}"', f'gossip_keys: ["{KEY}"]', "log_level: warning", "nodes:"]
    lines += [f'  - {{id: {n["id"]}, rpc: "127.0.0.1:{n["rpc"]}", http: "127.0.0.1:{n["http"]}", gossip: "127.0.0.1:{n["gossip"]}", data_dir: ./{n["id"]}}}' for n in nodes]
    config = os.path.join(work, "cluster.yaml")
    open(config, "w").write("\n".join(lines) + "\n")
    binary = os.path.abspath(args.binary)
    processes = [subprocess.Popen([binary, "serve", "--config", config, "--node", n["id"]], cwd=work,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in nodes]
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if all(http(n["http"], "GET", "/v1/cluster/status")["member_count"] == len(nodes) for n in nodes):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        clients = [RESP(n["rpc"]) for n in nodes]
        created, revoked = [], []
        rng = random.Random(7)
        for _ in range(args.trials):
            writer, revoker = rng.sample(range(len(nodes)), 2)
            key = http(nodes[writer]["http"], "POST", "/v1/keys", {"name": "bench"})
            created.append(until(clients, key["key"], "VALID"))
            start = time.perf_counter()
            http(nodes[revoker]["http"], "POST", f"/v1/keys/{key['id']}/revoke")
            seen = until(clients, key["key"], "REVOKED")
            revoked.append(None if seen is None else time.perf_counter() - start)
        ok = [t for t in revoked if t is not None]
        made = [t for t in created if t is not None]
        print(f"nodes {len(nodes)}, trials {args.trials}: revocation visible on every node "
              f"p50 {percentile(ok, 0.5) * 1000:.1f} ms, p99 {percentile(ok, 0.99) * 1000:.1f} ms, max {max(ok) * 1000:.1f} ms "
              f"(missed {len(revoked) - len(ok)}); creation visible p50 {percentile(made, 0.5) * 1000:.1f} ms, p99 {percentile(made, 0.99) * 1000:.1f} ms")
    finally:
        for process in processes:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
