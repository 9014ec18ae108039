/// Which shared counter a slot belongs to: one named limit of a key, or a free-form
/// `THROTTLE` bucket. The same on every node, so slots can be exchanged.
public enum CounterBucket: Hashable, Sendable, Codable {
    case keyLimit(keyID: String, limit: String, windowMs: Int64)
    case throttle(name: String, windowMs: Int64)
}

/// One node's count in one fixed window of one bucket: the unit of counter replication.
/// It carries the node's whole count (not an increment), so applying it twice, late or out
/// of order changes nothing: merging keeps the larger count.
public struct CounterSlot: Hashable, Sendable, Codable {
    public var bucket: CounterBucket
    public var windowIndex: Int64
    public var count: Int64

    public init(bucket: CounterBucket, windowIndex: Int64, count: Int64) {
        self.bucket = bucket
        self.windowIndex = windowIndex
        self.count = count
    }
}
