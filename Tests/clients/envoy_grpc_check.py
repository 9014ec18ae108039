"""Envoy's own generated messages (PyPI xds-protos) over grpcio against Gatehouse nodes.

Usage: envoy_grpc_check.py CONFIG.json, where the JSON has `grpc` (the nodes' gRPC
host:port, first one used unless a check says otherwise), `token` (gateway token),
`key` and `check_key` (API keys with scopes ["read"], a limit of 2 per hour, owner
`acct_envoy` and meta `tier: gold`) and `unknown_key`.
Prints one `ok: <check>` line per check that held and exits 1 at the first that did not.
The rules file the nodes were started with is in EnvoyGRPCClientTests.swift.
"""

import json
import sys
import time

import grpc
from envoy.config.core.v3 import address_pb2
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf import wrappers_pb2

OK = rls_pb2.RateLimitResponse.OK
OVER = rls_pb2.RateLimitResponse.OVER_LIMIT


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def descriptor(*pairs, hits=None):
    entries = [ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, v in pairs]
    result = ratelimit_pb2.RateLimitDescriptor(entries=entries)
    if hits is not None:
        result.hits_addend.CopyFrom(wrappers_pb2.UInt64Value(value=hits))
    return result


def main():
    config = json.load(open(sys.argv[1]))
    metadata = [("x-gatehouse-token", config["token"])]
    channels = [grpc.insecure_channel(address) for address in config["grpc"]]
    limiters = [rls_pb2_grpc.RateLimitServiceStub(channel) for channel in channels]
    authorizers = [external_auth_pb2_grpc.AuthorizationStub(channel) for channel in channels]
    run = str(time.time_ns())  # descriptor values of this run, so reruns never share counters

    def limit(*descriptors, node=0, hits=0, domain="edge"):
        request = rls_pb2.RateLimitRequest(domain=domain, descriptors=list(descriptors), hits_addend=hits)
        return limiters[node].ShouldRateLimit(request, metadata=metadata, timeout=30)

    # Without the gateway token the call is refused.
    try:
        limiters[0].ShouldRateLimit(rls_pb2.RateLimitRequest(domain="edge", descriptors=[descriptor(("remote_address", "x"))]), timeout=30)
        fail("a call without the gateway token was answered")
    except grpc.RpcError as error:
        expect(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"no token: {error.code()}")
    print("ok: unauthenticated without the gateway token")

    # OK, OK, OK, then OVER_LIMIT on a limit of 3 per minute, with the status Envoy reads.
    address = descriptor(("remote_address", "198.51.100.7" + run))
    for expected_remaining in (2, 1, 0):
        answer = limit(address)
        expect(answer.overall_code == OK, f"under the limit: {answer}")
        status = answer.statuses[0]
        expect(status.code == OK and status.limit_remaining == expected_remaining, f"remaining {expected_remaining}: {status}")
        expect(status.current_limit.requests_per_unit == 3, f"current limit: {status}")
        expect(status.current_limit.unit == rls_pb2.RateLimitResponse.RateLimit.MINUTE, f"unit: {status}")
        expect(0 < status.duration_until_reset.ToMilliseconds() <= 60_000, f"reset: {status}")
    answer = limit(address)
    expect(answer.overall_code == OVER and answer.statuses[0].code == OVER, f"over the limit: {answer}")
    print("ok: OK until the limit, then OVER_LIMIT with limit_remaining and duration_until_reset")

    # Response headers when asked for (rate_limit_headers: true).
    names = {header.key: header.value for header in answer.response_headers_to_add}
    expect(names.get("x-ratelimit-limit") == "3, 3;w=60" and names.get("x-ratelimit-remaining") == "0", f"headers: {names}")
    print("ok: x-ratelimit headers")

    # Shadow mode: counted, never refused.
    shadow = descriptor(("tenant", "t" + run), ("plan", "free"))
    for _ in range(4):
        answer = limit(shadow)
        expect(answer.overall_code == OK and answer.statuses[0].code == OK, f"shadow mode: {answer}")
    expect(answer.statuses[0].limit_remaining == 0, f"shadow mode still counts: {answer}")
    print("ok: shadow mode")

    # Unlimited: OK, no current limit.
    answer = limit(descriptor(("path", "/static/app" + run)))
    expect(answer.overall_code == OK and not answer.statuses[0].HasField("current_limit"), f"unlimited: {answer}")
    print("ok: unlimited")

    # hits_addend of the request (5 against 10 a minute), then of a descriptor (0: check only).
    user = descriptor(("user", "u" + run))
    expect(limit(user, hits=5).overall_code == OK, "first 5 hits")
    expect(limit(user, hits=5).overall_code == OK, "second 5 hits")
    expect(limit(user, hits=5).overall_code == OVER, "third 5 hits")
    probe = descriptor(("user", "u2" + run), hits=0)
    answer = limit(probe, hits=50)
    expect(answer.overall_code == OK and answer.statuses[0].limit_remaining == 10, f"hits_addend 0 checks only: {answer}")
    print("ok: hits_addend")

    # The key's own limits (2 per hour) through the API-key descriptor; unknown keys fail closed.
    key = descriptor(("gatehouse_api_key", config["key"]))
    expect(limit(key).overall_code == OK, "key: first")
    answer = limit(key)
    expect(answer.overall_code == OK and answer.statuses[0].limit_remaining == 0, f"key: second: {answer}")
    answer = limit(key)
    expect(answer.overall_code == OVER, f"key: third: {answer}")
    codes = {h.key: h.value for h in answer.response_headers_to_add}
    expect(codes.get("x-gatehouse-code") == "RATE_LIMITED", f"key over limit says why: {codes}")
    answer = limit(descriptor(("gatehouse_api_key", config["unknown_key"])))
    codes = {h.key: h.value for h in answer.response_headers_to_add}
    expect(answer.overall_code == OVER and codes.get("x-gatehouse-code") in ("MALFORMED", "NOT_FOUND"), f"unknown key: {answer}")
    print("ok: a key's own limits via its descriptor")

    # Bad requests are INVALID_ARGUMENT, not a crash.
    try:
        limit()
        fail("a request without descriptors was answered")
    except grpc.RpcError as error:
        expect(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"no descriptors: {error.code()}")
    print("ok: invalid argument")

    # Three nodes share one limit of 30 a minute: 10 hits on each, then every node refuses,
    # the third having seen only its own 10 (probing with hits_addend 0 counts nothing).
    if len(limiters) > 1:
        shared = descriptor(("shared", "s" + run))
        for i in range(30):
            answer = limit(shared, node=i % len(limiters))
            expect(answer.overall_code == OK, f"shared hit {i}: {answer}")
        probe = descriptor(("shared", "s" + run), hits=0)
        deadline = time.time() + 90
        refused = set()
        while time.time() < deadline and len(refused) < len(limiters):
            for node in range(len(limiters)):
                if limit(probe, node=node).statuses[0].limit_remaining == 0:
                    refused.add(node)
            time.sleep(0.05)
        expect(len(refused) == len(limiters), f"only nodes {sorted(refused)} learnt the shared count")
        answers = [limit(shared, node=node).overall_code for node in range(len(limiters))]
        expect(all(code == OVER for code in answers), f"a node admitted past the shared limit: {answers}")
        print(f"ok: {len(limiters)} nodes share one limit")

    # ext_authz Check: OK with the key's id upstream, 401, 403, 429 with retry-after.
    def check(headers, scopes=None, node=0):
        http = attribute_context_pb2.AttributeContext.HttpRequest(method="GET", path="/orders/1", host="api", headers=headers)
        attributes = attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http),
            source=attribute_context_pb2.AttributeContext.Peer(
                address=address_pb2.Address(socket_address=address_pb2.SocketAddress(address="203.0.113.9", port_value=5555))),
            context_extensions={"scopes": scopes} if scopes else {})
        return authorizers[node].Check(external_auth_pb2.CheckRequest(attributes=attributes), metadata=metadata, timeout=30)

    fresh = config["check_key"]
    answer = check({"x-api-key": fresh}, scopes="read")
    expect(answer.status.code == 0 and answer.HasField("ok_response"), f"check OK: {answer}")
    upstream = {o.header.key: o.header.value for o in answer.ok_response.headers}
    expect(upstream.get("x-gatehouse-key-id", "").startswith("key_"), f"upstream headers: {upstream}")
    expect(upstream.get("x-gatehouse-owner") == "acct_envoy", f"owner upstream: {upstream}")
    expect(upstream.get("x-gatehouse-meta-tier") == "gold", f"meta upstream: {upstream}")
    print("ok: Check OK with x-gatehouse-key-id, owner and meta for upstream")

    answer = check({"x-api-key": config["unknown_key"]})
    expect(answer.status.code != 0 and answer.denied_response.status.code == 401, f"unknown key: {answer}")
    print("ok: Check DENIED 401")
    answer = check({"authorization": "Bearer " + fresh}, scopes="write")
    expect(answer.denied_response.status.code == 403, f"missing scope: {answer}")
    print("ok: Check DENIED 403")
    check({"x-api-key": fresh}, scopes="read")
    answer = check({"x-api-key": fresh}, scopes="read")
    denied = {o.header.key: o.header.value for o in answer.denied_response.headers}
    expect(answer.denied_response.status.code == 429, f"over the limit: {answer}")
    expect(int(denied.get("retry-after", "0")) >= 1 and denied.get("ratelimit-remaining") == "0", f"429 headers: {denied}")
    print("ok: Check DENIED 429 with retry-after and RateLimit headers")


if __name__ == "__main__":
    main()
