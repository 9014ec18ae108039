"""Drives a Gatehouse node over TLS with redis-py (ssl=True), checking the certificate
chain against the test CA and the server name against 127.0.0.1.

Usage: redis_py_tls_check.py PORT VALID_KEY CA_FILE [CLIENT_CERT CLIENT_KEY]
Prints one line per protocol version and exits non-zero on the first failure (a refused
handshake included).
"""
import sys

import redis


def pairs(reply):
    """A VERIFY answer as a dict, from a RESP2 flat list or a RESP3 map."""
    if isinstance(reply, dict):
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in reply.items()}
    it = iter(reply)
    return {k.decode(): v for k, v in zip(it, it)}


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def main():
    port, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    certfile = sys.argv[4] if len(sys.argv) > 5 else None
    keyfile = sys.argv[5] if len(sys.argv) > 5 else None
    for protocol in (2, 3):
        client = redis.Redis(
            host="127.0.0.1", port=port, protocol=protocol, socket_timeout=10,
            ssl=True, ssl_ca_certs=ca, ssl_cert_reqs="required", ssl_check_hostname=True,
            ssl_certfile=certfile, ssl_keyfile=keyfile)
        assert client.ping() is True, "PING"
        answer = pairs(client.execute_command("VERIFY", key, "SCOPE", "read"))
        assert text(answer["code"]) == "VALID", answer
        with client.pipeline(transaction=False) as pipe:
            for _ in range(50):
                pipe.execute_command("VERIFY", key)
            replies = pipe.execute()
        assert all(text(pairs(r)["code"]) == "VALID" for r in replies), "pipeline"
        client.close()
        print(f"redis-py TLS RESP{protocol}: ok")


if __name__ == "__main__":
    main()
