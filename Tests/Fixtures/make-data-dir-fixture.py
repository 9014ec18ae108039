#!/usr/bin/env python3
"""Makes a data directory with a released `gatehouse` binary, for the test that a later
release opens it (SQLiteKeyStorageLoadTests.aDataDirectoryMadeByAnEarlierReleaseLoads).

    Tests/Fixtures/make-data-dir-fixture.py GATEHOUSE_BINARY OUT_DIR

Starts `gatehouse serve` on a fresh OUT_DIR/data (127.0.0.1, free ports), makes keys of every
shape through the admin API (meta, credits, expiry, strict limits, a rotation with grace, a
revoke, an update, a disabled key), stops it with SIGTERM and writes OUT_DIR/expected.json:
each key's record as the API answered and the verify code each secret must get. The pepper is
in OUT_DIR/data/secrets.json, as the node wrote it. Python 3 standard library only.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

TOKEN = "fixture-admin-token-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    text = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path} answered {response.status}: {text[:300]!r}")
    return json.loads(text)


def main():
    binary, out = sys.argv[1], sys.argv[2]
    data = os.path.join(out, "data")
    os.makedirs(out, exist_ok=True)
    rpc, port = free_port(), free_port()
    node = subprocess.Popen(
        [binary, "serve", "--rpc", f"127.0.0.1:{rpc}", "--http", f"127.0.0.1:{port}", "--data-dir", data, "--log-level", "warning"],
        env=dict(os.environ, GATEHOUSE_ADMIN_TOKEN=TOKEN), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                probe.request("GET", "/readyz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the node did not become ready")
        day = 86_400_000
        now_ms = int(time.time() * 1000)
        shapes = [
            {"name": "plain", "owner": "acct_1", "scopes": ["read"]},
            {"name": "with meta", "owner": "acct_1", "scopes": ["read", "orders:*"], "meta": {"plan": "pro", "region": "eu"}},
            {"name": "credits", "owner": "acct_2", "credits": 500},
            {"name": "expiring", "owner": "acct_2",
             "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now_ms + 400 * day) // 1000))},
            {"name": "strict", "owner": "acct_3", "limits": [{"name": "second", "limit": 10, "window_ms": 1000, "strict": True}]},
            {"name": "to rotate", "owner": "acct_3"},
            {"name": "to revoke", "owner": "acct_3"},
            {"name": "to update", "owner": "acct_4"},
            {"name": "to disable", "owner": "acct_4"},
        ]
        keys = []
        for shape in shapes:
            made = call(port, "POST", "/v1/keys", shape)
            keys.append({"id": made["id"], "secrets": {made["key"]: "VALID"}})
        rotated = call(port, "POST", f"/v1/keys/{keys[5]['id']}/rotate", {"grace_ms": 30 * day})
        keys[5]["secrets"][rotated["key"]] = "VALID"
        call(port, "POST", f"/v1/keys/{keys[6]['id']}/revoke")
        keys[6]["secrets"] = {secret: "REVOKED" for secret in keys[6]["secrets"]}
        call(port, "PATCH", f"/v1/keys/{keys[7]['id']}", {"name": "updated", "scopes": ["write"], "meta": {"a": "b"}})
        call(port, "PATCH", f"/v1/keys/{keys[8]['id']}", {"enabled": False})
        keys[8]["secrets"] = {secret: "DISABLED" for secret in keys[8]["secrets"]}
        for key in keys:
            key["record"] = call(port, "GET", f"/v1/keys/{key['id']}")
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"made_at_ms": now_ms, "keys": keys}, f, indent=2, sort_keys=True)
    print(f"{len(keys)} keys in {data}; expectations in {out}/expected.json")


if __name__ == "__main__":
    main()
