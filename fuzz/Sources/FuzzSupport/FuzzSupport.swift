import CFuzzDriver
import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore

/// What the fuzz targets share: a property check that crashes (so libFuzzer keeps the
/// input), deterministic randomness, and the fixtures the seed generator encodes.

/// Stops the process with `message` when a property does not hold; libFuzzer saves the input.
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition {
        fatalError("fuzz property failed: \(message())", file: file, line: line)
    }
}

/// The fuzz input as a buffer.
public func fuzzBuffer(_ start: UnsafePointer<UInt8>, _ count: Int) -> ByteBuffer {
    ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
}

/// SplitMix64: the same numbers on every run, so a crash reproduces.
public struct FuzzRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum Fixtures {
    public static let clusterName = "fuzz-cluster"
    /// Two 32-byte keys (base64 of 0x01… and 0x02…): the first seals, both open.
    public static let keyring: ClusterKeyring = {
        let keys = [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)].map { base64($0) }
        return try! ClusterKeyring(base64Keys: keys, clusterName: clusterName)
    }()

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * offset) }
            for position in 0..<4 {
                if position <= chunk.count {
                    out.append(alphabet[Int((value >> (18 - 6 * position)) & 0x3F)])
                } else {
                    out.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static let version = HybridTimestamp(wallMs: 1_760_000_000_000, logical: 3, node: "node-a")

    public static let record = KeyRecord(
        id: "key_4xT9bQ2mR7wZ1pL8kV3nY6", lookup: LookupHash(w0: 1, w1: 2, w2: 3, w3: 4), start: "gk_AbCd",
        name: "checkout service", owner: "acct_42", scopes: ["orders:read", "orders:*"], enabled: true,
        createdAt: 1_760_000_000_000, expiresAt: 1_790_000_000_000,
        limits: [RateLimit(name: "per_second", limit: 100, windowMs: 1_000), RateLimit(name: "daily", limit: 50_000, windowMs: 86_400_000, strict: true)],
        credits: 1_000, creditsSetAt: version, meta: ["team": "payments", "tier": "gold"], revokedAt: nil,
        lastUsedAt: 1_760_000_100_000,
        retiredSecrets: [RetiredSecret(lookup: LookupHash(w0: 5, w1: 6, w2: 7, w3: 8), start: "gk_Old1", validUntil: 1_760_100_000_000)],
        version: version, secretGeneration: 2, holders: ["node-a", "node-b", "node-c"], refill: CreditRefill(amount: 1_000, interval: .monthly))

    public static let bareRecord = KeyRecord(
        id: "key_b", lookup: LookupHash(w0: 0, w1: 0, w2: 0, w3: 0), start: "", name: "", owner: "", scopes: [],
        enabled: false, createdAt: -1, expiresAt: nil, limits: [], credits: nil, creditsSetAt: nil, meta: [:],
        revokedAt: 5, lastUsedAt: nil, retiredSecrets: [], version: HybridTimestamp(wallMs: 0, logical: 0, node: ""))

    public static let addressA = MemberAddress(host: "10.0.0.1", port: 7946)
    public static let addressB = MemberAddress(host: "node-b.internal", port: 65535)

    public static let gossip: [Gossip] = [
        .alive(NodeID("node-c"), incarnation: 7, address: addressB),
        .suspect(NodeID("node-d"), incarnation: 2, suspector: NodeID("node-a")),
        .dead(NodeID("node-e"), incarnation: UInt64.max, declarer: NodeID("node-b")),
        .payload(PayloadID(origin: NodeID("node-a"), sequence: 9), [1, 2, 3, 255]),
    ]

    public static let membershipMessages: [MembershipMessage] = [
        .ping(sequence: 1, target: NodeID("node-b"), source: NodeID("node-a"), sourceAddress: addressA, gossip: []),
        .ping(sequence: 2, target: NodeID("node-b"), source: NodeID("node-a"), sourceAddress: addressA, gossip: gossip),
        .pingRequest(sequence: 3, target: NodeID("node-c"), targetAddress: addressB, source: NodeID("node-a"), sourceAddress: addressA, gossip: gossip),
        .ack(sequence: UInt32.max, source: NodeID("node-b"), sentAtMs: Int64.min, gossip: gossip),
        .nack(sequence: 4, source: NodeID("node-c")),
        .gossip(source: NodeID("node-a"), gossip: gossip),
    ]

    public static let members: [Member] = [
        Member(id: NodeID("node-a"), address: addressA, status: .alive, incarnation: 1, lastChangeMs: 0),
        Member(id: NodeID("node-b"), address: addressB, status: .suspect, incarnation: 5, lastChangeMs: 0),
        Member(id: NodeID("node-c"), address: addressB, status: .dead, incarnation: 0, lastChangeMs: 0),
    ]

    static let keyBucket = CounterBucket.keyLimit(keyID: record.id, limit: "per_second", windowMs: 1_000)
    static let throttleBucket = CounterBucket.throttle(name: "login:alice", windowMs: 60_000)

    /// A conversation as one stream carries it: later counter frames refer to buckets the
    /// earlier ones defined.
    public static let dataMessages: [DataMessage] = [
        .hello(node: NodeID("node-a")),
        .records([record, bareRecord]),
        .digest(ReplicaDigest(buckets: (0..<UInt64(ReplicaDigest.bucketCount)).map { $0 &* 0x9E37_79B9 })),
        .digestReply(buckets: [0, 17, 255], entries: [ReplicaEntry(id: record.id, precedence: .live(version)), ReplicaEntry(id: "", precedence: RecordPrecedence(revoked: true, secretGeneration: .max, version: version))]),
        .recordsAndWant(records: [record], want: ["key_x", "key_y"]),
        .counters(origin: NodeID("node-a"), slots: [
            CounterSlot(bucket: keyBucket, windowIndex: 1_760_000_000, count: 3),
            CounterSlot(bucket: throttleBucket, windowIndex: 29_000_000, count: 1),
        ]),
        .counters(origin: NodeID("node-b"), slots: [
            CounterSlot(bucket: keyBucket, windowIndex: 1_760_000_001, count: 9),
            CounterSlot(bucket: throttleBucket, windowIndex: 28_999_999, count: Int64.max),
        ]),
        .countersRequest,
        .countersReply(slots: [CounterSlot(bucket: keyBucket, windowIndex: -5, count: 0)]),
        .escrowWants([
            EscrowWant(ledger: .window(keyID: record.id, limit: "per_second", windowMs: 1_000), quota: 250, amount: 84),
            EscrowWant(ledger: .credits(keyID: record.id, epoch: version, period: 683), quota: 90, amount: 30),
        ]),
        .escrowRows([
            EscrowRow(ledger: .window(keyID: record.id, limit: "per_second", windowMs: 1_000), quota: 250, spent: 0, given: ["node-b": 42]),
            EscrowRow(ledger: .credits(keyID: record.id, epoch: version, period: 0), quota: 90, spent: 12, given: ["node-b": 5, "node-c": Int64.max]),
        ]),
        .escrowRestore([EscrowRow(ledger: .credits(keyID: "", epoch: version, period: -1), quota: 0, spent: 0, given: [:])]),
        .auditEntries([
            AuditEntry(
                id: "aud_0123456789ABCDEFabcdef", atMs: 1_760_000_000_000, node: "node-a", actor: "ci-deployer", source: "192.0.2.7",
                requestID: "req-1", action: .keyUpdate, keyID: record.id,
                changes: [AuditChange(field: "name", before: "old", after: "new"), AuditChange(field: "expires_at", before: nil, after: "1")]),
        ]),
        .auditDigest(AuditDigest(buckets: [488_888: AuditDigest.Bucket(count: 3, fingerprint: 0xDEAD_BEEF)], fromHour: 488_000), reply: false),
    ]
}

/// Runs libFuzzer with `testOne` as the target. SwiftPM links each executable with `main`
/// aliased to `<module>_main`, so every target defines that symbol and calls this.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
    _ testOne: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOne)
}
