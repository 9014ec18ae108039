/// Latency over the run, in buckets of 100 ms of due time.
enum LatencyTimeline {
    static let bucketNs: UInt64 = 100_000_000
    /// An hour of buckets at most.
    static let maxBuckets = 36_000
    /// What counts as slow in a bucket's tally.
    static let slowNs: UInt64 = 5_000_000

    struct Bucket: Sendable, Codable, Hashable {
        var replies = 0
        var slow = 0
        var maxNs: UInt64 = 0

        mutating func add(_ latencyNs: UInt64) {
            replies += 1
            if latencyNs > LatencyTimeline.slowNs { slow += 1 }
            maxNs = max(maxNs, latencyNs)
        }

        mutating func merge(_ other: Bucket) {
            replies += other.replies
            slow += other.slow
            maxNs = max(maxNs, other.maxNs)
        }
    }
}
