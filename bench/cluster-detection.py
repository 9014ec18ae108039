#!/usr/bin/env python3
"""Crash detection on real processes: starts the nodes of a generated cluster config with
default (memberlist LAN) timing on free loopback ports, kill -9s one node per trial, and
measures how long until every other node reports it dead via /v1/cluster/members.

Usage: bench/cluster-detection.py [--nodes 3] [--trials 5] [--binary .build-release/release/gatehouse]
"""
import argparse, json, os, signal, socket, subprocess, tempfile, time, urllib.request

TOKEN = "detection-bench-admin-token-0123456789"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def view(port):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/cluster/members", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=2) as answer:
        return {m["id"]: m["state"] for m in json.load(answer)["members"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--binary", default=".build-release/release/gatehouse")
    args = parser.parse_args()
    work = tempfile.mkdtemp()
    nodes = [{"id": f"n{i}", "rpc": free_port(), "http": free_port(), "gossip": free_port()} for i in range(1, args.nodes + 1)]
    lines = [f'pepper: "detection-bench-pepper-0123456789abcdef"', f'admin_token: "{TOKEN}"', f'gossip_keys: ["{KEY}"]', "log_level: warning", "nodes:"]
    lines += [f'  - {{id: {n["id"]}, rpc: "127.0.0.1:{n["rpc"]}", http: "127.0.0.1:{n["http"]}", gossip: "127.0.0.1:{n["gossip"]}", data_dir: ./{n["id"]}}}' for n in nodes]
    config = os.path.join(work, "cluster.yaml")
    open(config, "w").write("\n".join(lines) + "\n")
    processes = {}

    def start(node):
        processes[node["id"]] = subprocess.Popen([args.binary, "serve", "--config", config, "--node", node["id"]],
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(condition, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            try:
                if condition():
                    return time.time()
            except OSError:
                pass
            time.sleep(0.05)
        return None

    try:
        for node in nodes:
            start(node)
        assert wait(lambda: all(all(s == "alive" for s in view(n["http"]).values()) and len(view(n["http"])) == len(nodes) for n in nodes)), "no full view"
        times = []
        for trial in range(args.trials):
            victim = nodes[1 + trial % (len(nodes) - 1)]
            others = [n for n in nodes if n is not victim]
            killed = time.time()
            processes[victim["id"]].send_signal(signal.SIGKILL)
            processes[victim["id"]].wait()
            seen = wait(lambda: all(view(n["http"]).get(victim["id"]) == "dead" for n in others))
            times.append(None if seen is None else seen - killed)
            print(f"trial {trial + 1}: {victim['id']} seen dead by all others after {times[-1]:.2f} s" if seen else f"trial {trial + 1}: not detected")
            start(victim)
            wait(lambda: all(view(n["http"]).get(victim["id"]) == "alive" for n in others))
            time.sleep(2)
        done = sorted(t for t in times if t is not None)
        if done:
            print(f"nodes {len(nodes)} trials {len(times)}: p50 {done[len(done) // 2]:.2f} s, max {done[-1]:.2f} s")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
