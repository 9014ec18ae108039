/// A compact summary of a replica's key records for anti-entropy: records are spread over
/// fixed buckets by id, and each bucket's digest is the XOR of a hash of every
/// `(id, version)` in it — independent of order, so two replicas holding the same records
/// agree bucket for bucket, and a difference points at the few buckets to compare.
public struct ReplicaDigest: Hashable, Sendable {
    public static let bucketCount = 256
    public var buckets: [UInt64]

    public init(buckets: [UInt64] = [UInt64](repeating: 0, count: ReplicaDigest.bucketCount)) {
        self.buckets = buckets
    }

    /// The bucket of a key id: the same on every node.
    public static func bucket(of id: String) -> Int {
        Int(truncatingIfNeeded: fnv1a(id.utf8) % UInt64(bucketCount))
    }

    /// What an entry contributes to its bucket.
    public static func entryHash(id: String, version: HybridTimestamp) -> UInt64 {
        var hash = fnv1a(id.utf8)
        hash = mix(hash ^ UInt64(bitPattern: version.wallMs))
        hash = mix(hash ^ UInt64(version.logical))
        return mix(hash ^ fnv1a(version.node.utf8))
    }

    public mutating func add(id: String, version: HybridTimestamp) {
        buckets[Self.bucket(of: id)] ^= Self.entryHash(id: id, version: version)
    }

    /// Takes an entry out again (XOR is its own inverse), when a newer version replaces it.
    public mutating func remove(id: String, version: HybridTimestamp) {
        add(id: id, version: version)
    }

    /// Buckets whose digests differ from `other`'s.
    public func differingBuckets(from other: ReplicaDigest) -> [Int] {
        guard other.buckets.count == buckets.count else { return Array(buckets.indices) }
        return buckets.indices.filter { buckets[$0] != other.buckets[$0] }
    }

    /// An order-independent fingerprint of the whole replica, for status pages.
    public var fingerprint: UInt64 {
        buckets.enumerated().reduce(0) { $0 ^ Self.mix($1.element &+ UInt64($1.offset)) }
    }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}

/// One record of one side's list for some buckets: its id and where it stands in the merge
/// order (`RecordPrecedence`), which says which side should send it.
public struct ReplicaEntry: Hashable, Sendable {
    public var id: String
    public var precedence: RecordPrecedence

    public init(id: String, precedence: RecordPrecedence) {
        self.id = id
        self.precedence = precedence
    }

    public var version: HybridTimestamp { precedence.version }
}

public enum ReplicaDiff {
    /// Given our entries and theirs for the same buckets: the ids whose records we should
    /// send (ours take precedence, or they lack them) and the ids we should ask for (theirs
    /// take precedence, or we lack them) — by the merge order, not the version alone, so a
    /// revoke with an older version still travels to a replica holding a later live edit.
    public static func compare(ours: [ReplicaEntry], theirs: [ReplicaEntry]) -> (send: [String], request: [String]) {
        var theirPrecedence: [String: RecordPrecedence] = [:]
        for entry in theirs { theirPrecedence[entry.id] = entry.precedence }
        var send: [String] = []
        for entry in ours {
            if let theirs = theirPrecedence[entry.id], theirs >= entry.precedence { continue }
            send.append(entry.id)
        }
        var ourPrecedence: [String: RecordPrecedence] = [:]
        for entry in ours { ourPrecedence[entry.id] = entry.precedence }
        var request: [String] = []
        for entry in theirs {
            if let mine = ourPrecedence[entry.id], mine >= entry.precedence { continue }
            request.append(entry.id)
        }
        return (send.sorted(), request.sorted())
    }
}
