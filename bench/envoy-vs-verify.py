#!/usr/bin/env python3
"""ShouldRateLimit over gRPC next to VERIFY over RESP, with one tool and the same connections.

Closed loop: C connections, each with one request outstanding at a time, for D seconds after
a warm-up, driven from one asyncio process (grpc.aio for Envoy's rate-limit service, with
Envoy's own messages from xds-protos; redis.asyncio for VERIFY). Both are measured by the same
Python client, whose own cost per request is part of every figure: the comparison between
the two rows is the point, not the absolute numbers (gatehouse-bench drives RESP much harder).

    bench/envoy-vs-verify.py --grpc 127.0.0.1:7381 --resp 127.0.0.1:7379 --key gk_… -c 16 -d 10 --server-pid $(pgrep -f …)

With --server-pid, each row also gives the node's CPU time per request (utime + stime from
/proc, warm-up included): the figure the Python client's own cost does not blur.

Needs: pip install grpcio xds-protos redis. The node needs no rules file: the descriptor
(`bench=<connection>`) matches nothing and is answered OK, or pass --rules-descriptor to
count it against a rule's sliding window (e.g. remote_address=…).
"""

import argparse
import asyncio
import os
import time

import grpc
import redis.asyncio as redis
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def server_cpu_seconds(pid):
    """utime + stime of the node, from /proc (Linux)."""
    if not pid:
        return None
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(call, connections, warmup, duration):
    latencies = []
    total = [0]
    stop_warmup = time.perf_counter() + warmup
    stop = stop_warmup + duration

    async def loop(index):
        while True:
            started = time.perf_counter()
            if started >= stop:
                return
            await call(index)
            total[0] += 1
            ended = time.perf_counter()
            if started >= stop_warmup:
                latencies.append(ended - started)

    await asyncio.gather(*(loop(i) for i in range(connections)))
    return latencies, total[0]


async def bench_grpc(args):
    channels = [grpc.aio.insecure_channel(args.grpc, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(args.connections)]
    stubs = [rls_pb2_grpc.RateLimitServiceStub(channel) for channel in channels]
    key, _, value = args.rules_descriptor.partition("=")
    requests = [
        rls_pb2.RateLimitRequest(domain=args.domain, descriptors=[ratelimit_pb2.RateLimitDescriptor(
            entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key=key or "bench", value=value or str(i))])])
        for i in range(args.connections)
    ]
    metadata = [("x-gatehouse-token", args.token)] if args.token else None

    async def call(index):
        await stubs[index].ShouldRateLimit(requests[index], metadata=metadata)

    measured = await drive(call, args.connections, args.warmup, args.duration)
    for channel in channels:
        await channel.close()
    return measured


async def bench_verify(args):
    host, _, port = args.resp.rpartition(":")
    clients = [redis.Redis(host=host, port=int(port), password=args.token or None, single_connection_client=True) for _ in range(args.connections)]

    async def call(index):
        await clients[index].execute_command("VERIFY", args.key)

    measured = await drive(call, args.connections, args.warmup, args.duration)
    for client in clients:
        await client.aclose()
    return measured


def run(name, bench, args):
    before = server_cpu_seconds(args.server_pid)
    latencies, total = asyncio.run(bench(args))
    after = server_cpu_seconds(args.server_pid)
    cpu = f"   server CPU {(after - before) / total * 1e6:5.1f} us/request" if before is not None else ""
    print(f"{name:<16} {len(latencies) / args.duration:>10.0f} req/s   p50 {percentile(latencies, 0.5) * 1e3:6.3f} ms   "
          f"p99 {percentile(latencies, 0.99) * 1e3:6.3f} ms   ({len(latencies)} requests){cpu}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grpc", default="127.0.0.1:7381")
    parser.add_argument("--resp", default="127.0.0.1:7379")
    parser.add_argument("--key", required=True, help="an API key for VERIFY")
    parser.add_argument("--token", default="", help="gateway token, when the node has gateway_tokens")
    parser.add_argument("--domain", default="bench")
    parser.add_argument("--rules-descriptor", default="", help="key=value of the descriptor sent (default bench=<connection>)")
    parser.add_argument("-c", "--connections", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--server-pid", type=int, help="the node's pid: also report its CPU time per request (Linux)")
    args = parser.parse_args()
    print(f"{args.connections} connections, {args.duration:g} s after {args.warmup:g} s warm-up, closed loop, one request in flight per connection")
    run("VERIFY (RESP)", bench_verify, args)
    run("ShouldRateLimit", bench_grpc, args)


if __name__ == "__main__":
    main()
