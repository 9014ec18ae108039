import Crypto

/// A summary of the audit entries a node holds, per hour of their time: how many, and the
/// XOR of a fingerprint of each id. Two nodes holding the same entries of an hour have the
/// same summary of it; an hour whose summaries differ is sent whole by anti-entropy (entries
/// merge by union, so sending one the peer holds costs only bytes).
public struct AuditDigest: Hashable, Sendable {
    public struct Bucket: Hashable, Sendable {
        public var count: UInt64
        public var fingerprint: UInt64

        public init(count: UInt64, fingerprint: UInt64) {
            self.count = count
            self.fingerprint = fingerprint
        }
    }

    public static let bucketMs: Int64 = 3_600_000

    /// By hour (`atMs / bucketMs`, rounded down).
    public private(set) var buckets: [Int64: Bucket]
    /// The oldest hour this summary speaks for: older hours are past the sender's retention
    /// (or left out to fit a message), so two summaries are compared from the later of
    /// their two `fromHour`s only — what one node has pruned is never sent back to it.
    public var fromHour: Int64

    public init(buckets: [Int64: Bucket] = [:], fromHour: Int64 = .min) {
        self.buckets = buckets
        self.fromHour = fromHour
    }

    public static func hour(ofMs atMs: Int64) -> Int64 {
        atMs >= 0 ? atMs / bucketMs : (atMs - bucketMs + 1) / bucketMs
    }

    /// The first 8 bytes of SHA-256 of the id: the same on every node (unlike `Hasher`).
    public static func fingerprint(ofID id: String) -> UInt64 {
        SHA256.hash(data: Array(id.utf8)).withUnsafeBytes { raw in
            raw.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
    }

    /// Counts an entry held now (the caller adds each id once).
    public mutating func add(atMs: Int64, fingerprint: UInt64) {
        var bucket = buckets[Self.hour(ofMs: atMs)] ?? Bucket(count: 0, fingerprint: 0)
        bucket.count += 1
        bucket.fingerprint ^= fingerprint
        buckets[Self.hour(ofMs: atMs)] = bucket
    }

    /// Forgets every hour that ends at or before `cutoffMs` (entries past retention).
    public mutating func removeHours(endingAtOrBefore cutoffMs: Int64) {
        let first = Self.hour(ofMs: cutoffMs)
        buckets = buckets.filter { $0.key >= first }
    }

    /// The hours both summaries speak for in which they differ (held by only one, or
    /// different), oldest first.
    public func differingHours(from other: AuditDigest) -> [Int64] {
        let from = max(fromHour, other.fromHour)
        return Set(buckets.keys).union(other.buckets.keys).filter { $0 >= from && buckets[$0] != other.buckets[$0] }.sorted()
    }

    /// The summary from `hour` on.
    public func from(hour: Int64) -> AuditDigest {
        AuditDigest(buckets: buckets.filter { $0.key >= hour }, fromHour: max(fromHour, hour))
    }

    /// The newest `limit` hours only: what fits in one message.
    public func newest(_ limit: Int) -> AuditDigest {
        guard buckets.count > limit, let oldestKept = buckets.keys.sorted().suffix(limit).first else { return self }
        return from(hour: oldestKept)
    }
}
