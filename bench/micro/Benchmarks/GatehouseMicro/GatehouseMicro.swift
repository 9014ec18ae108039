import Benchmark
import GatehouseCore
import GatehouseWire
import Foundation
import NIOCore

/// A deterministic generator so every run benchmarks the same keys.
struct BenchGenerator: RandomNumberGenerator {
    var state: UInt64 = 0x5EED
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// A gatekeeper holding `count` keys, and the secret of the first.
func makeGatekeeper(keys count: Int, limit: Int64) -> (Gatekeeper, String) {
    var random = BenchGenerator()
    let hasher = LookupHasher(pepper: Array("benchmark-pepper-benchmark-pepper-0123".utf8))
    var gatekeeper = Gatekeeper(hasher: hasher)
    var first = ""
    for index in 0..<count {
        let version = HybridTimestamp(wallMs: 1, logical: UInt32(index), node: "bench")
        let created = try! KeyLifecycle.create(
            KeyDraft(scopes: ["read", "orders:*"], limits: [RateLimit(name: "big", limit: limit, windowMs: 3_600_000)]),
            defaultLimits: [], hasher: hasher, nowMs: 1_000, version: version, using: &random)
        gatekeeper.apply(created.record)
        if index == 0 { first = created.secret }
    }
    return (gatekeeper, first)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    func verifyBenchmark(_ name: String, key: @escaping (String) -> String, limit: Int64 = Int64.max / 4, scopes: [String] = ["orders:read"]) {
        Benchmark(name) { benchmark in
            var (gatekeeper, secret) = makeGatekeeper(keys: 10_000, limit: limit)
            var presented = key(secret)
            let request = VerifyRequest(scopes: scopes)
            var now: Int64 = 2_000
            benchmark.startMeasurement()
            presented.withUTF8 { bytes in
                let raw = UnsafeRawBufferPointer(bytes)
                for _ in benchmark.scaledIterations {
                    now &+= 1
                    blackHole(gatekeeper.verify(key: raw, request, nowMs: now))
                }
            }
            benchmark.stopMeasurement()
        }
    }

    verifyBenchmark("verify VALID (10k keys)", key: { $0 })
    verifyBenchmark("verify NOT_FOUND", key: { _ in
        var random = BenchGenerator(state: 99)
        return APIKeyFormat.generate(prefix: "gk", using: &random)
    })
    verifyBenchmark("verify MALFORMED", key: { $0.replacingOccurrences(of: "gk_", with: "gk_x") })
    verifyBenchmark("verify RATE_LIMITED", key: { $0 }, limit: 1)

    Benchmark("lookup hash (HMAC-SHA256)") { benchmark in
        let hasher = LookupHasher(pepper: Array("benchmark-pepper-benchmark-pepper-0123".utf8))
        var random = BenchGenerator()
        var key = APIKeyFormat.generate(prefix: "gk", using: &random)
        benchmark.startMeasurement()
        key.withUTF8 { bytes in
            for _ in benchmark.scaledIterations { blackHole(hasher.hash(UnsafeRawBufferPointer(bytes))) }
        }
        benchmark.stopMeasurement()
    }

    Benchmark("sliding window check + record") { benchmark in
        var window = SlidingWindow()
        var now: Int64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            now &+= 1
            let check = window.check(cost: 1, limit: Int64.max / 4, windowMs: 60_000, nowMs: now)
            if check.allowed { window.record(cost: 1) }
            blackHole(check)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("counter merge (SlidingWindow, 3 peers)") { benchmark in
        var window = SlidingWindow()
        var count: Int64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            count &+= 1
            // Peers' slots arriving in rotating order, as gossip delivers them.
            window.merge(windowIndex: 7, node: NodeOrdinal(1 + count % 3), count: count)
            blackHole(window)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("counter merge (WindowSlots, 8 peers)") { benchmark in
        var slots = WindowSlots(index: 7)
        for node in 1...8 { slots.merge(node: NodeOrdinal(node), count: 1) }
        var count: Int64 = 1
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            count &+= 1
            slots.merge(node: NodeOrdinal(1 + count % 8), count: count)
            blackHole(slots.total)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("gossip seal 1400-byte datagram (AES-256-GCM)") { benchmark in
        let keyring = try! ClusterKeyring(base64Keys: [Data(repeating: 7, count: 32).base64EncodedString()], clusterName: "bench")
        let payload = [UInt8](repeating: 0x42, count: 1_400 - ClusterKeyring.overhead)
        var random = BenchGenerator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(keyring.seal(payload, using: &random))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("gossip open 1400-byte datagram (AES-256-GCM)") { benchmark in
        let keyring = try! ClusterKeyring(base64Keys: [Data(repeating: 7, count: 32).base64EncodedString()], clusterName: "bench")
        var random = BenchGenerator()
        let sealed = keyring.seal([UInt8](repeating: 0x42, count: 1_400 - ClusterKeyring.overhead), using: &random)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! keyring.open(sealed))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RESP decode VERIFY") { benchmark in
        let frame = sampleVerifyFrame()
        var decoder = ServerStyleDecoder()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decoder.decode(frame))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RESP encode VERIFY answer") { benchmark in
        let answer = sampleVerifyAnswer()
        var out = ByteBuffer()
        out.reserveCapacity(1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            out.clear()
            out.writeVerifyAnswer(answer, .v2)
            blackHole(out.readableBytes)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RESP decode VERIFY + encode answer") { benchmark in
        let frame = sampleVerifyFrame()
        var decoder = ServerStyleDecoder()
        let answer = sampleVerifyAnswer()
        var out = ByteBuffer()
        out.reserveCapacity(1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decoder.decode(frame))
            out.clear()
            out.writeVerifyAnswer(answer, .v2)
        }
        benchmark.stopMeasurement()
    }
}

/// Decodes a VERIFY the way the server's connection handler does: into argument ranges and
/// a scope array that are reused from one command to the next.
struct ServerStyleDecoder {
    let parser = RESPCommandParser()
    var ranges = RESPArgumentRanges()
    var scopeStorage: [String] = []

    mutating func decode(_ frame: ByteBuffer) -> VerifyArguments {
        var input = frame
        _ = try! parser.parse(&input, into: &ranges)
        var storage: [String] = []
        swap(&storage, &scopeStorage)
        let parsed = try! VerifyArguments(parsing: RESPCommandView(buffer: frame, ranges: ranges), scopeStorage: consume storage)
        scopeStorage = parsed.scopes
        return parsed
    }
}

/// A `VERIFY key SCOPE orders:read` command as a client sends it.
func sampleVerifyFrame() -> ByteBuffer {
    var random = BenchGenerator()
    let key = APIKeyFormat.generate(prefix: "gk", using: &random)
    var frame = ByteBuffer()
    let arguments = ["VERIFY", key, "SCOPE", "orders:read"]
    frame.writeRESPArrayHeader(count: arguments.count)
    for argument in arguments { frame.writeRESPBulkString(argument) }
    return frame
}

/// A typical VALID answer: id, owner, two scopes, one limit.
func sampleVerifyAnswer() -> VerifyAnswer {
    var answer = VerifyAnswer(code: .valid)
    answer.keyID = "key_0123456789012345678901"
    answer.owner = "acct_42"
    answer.scopes = ["read", "orders:*"]
    answer.limit = 1000
    answer.remaining = 999
    answer.resetMs = 1000
    answer.retryAfterMs = 0
    return answer
}
