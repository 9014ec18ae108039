"""Drives a Gatehouse node with redis-py, the standard Python Redis client.

Usage: redis_py_check.py PORT VALID_KEY [GATEWAY_TOKEN]
Prints one line per check and exits non-zero on the first failure.
"""
import sys

import redis


def pairs(reply):
    """A VERIFY/THROTTLE answer as a dict, from a RESP2 flat list or a RESP3 map."""
    if isinstance(reply, dict):
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in reply.items()}
    it = iter(reply)
    return {k.decode(): v for k, v in zip(it, it)}


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def main():
    port, key = int(sys.argv[1]), sys.argv[2]
    token = sys.argv[3] if len(sys.argv) > 3 else None
    for protocol in (2, 3):
        client = redis.Redis(host="127.0.0.1", port=port, password=token, protocol=protocol)
        assert client.ping() is True, "PING"
        hello = pairs(client.execute_command("HELLO", protocol))
        assert hello.get("gatehouse_protocol") == 1, hello
        answer = pairs(client.execute_command("VERIFY", key, "SCOPE", "read"))
        assert text(answer["code"]) == "VALID", answer
        assert answer["valid"] in (1, True), answer
        refused = pairs(client.execute_command("VERIFY", key, "SCOPE", "admin"))
        assert text(refused["code"]) == "INSUFFICIENT_SCOPE", refused
        with client.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.execute_command("VERIFY", key)
            replies = pipe.execute()
        assert len(replies) == 100 and all(text(pairs(r)["code"]) == "VALID" for r in replies), "pipeline"
        throttle = pairs(client.execute_command("THROTTLE", f"py:{protocol}", 1, 60000))
        assert throttle["allowed"] in (1, True), throttle
        try:
            client.execute_command("VERIFY")
            raise AssertionError("VERIFY without a key must fail")
        except redis.ResponseError as error:
            assert str(error).startswith("WRONGARGS"), error
        client.close()
        print(f"redis-py RESP{protocol}: ok")


if __name__ == "__main__":
    main()
