/// The name of a free-form rate-limit bucket (`THROTTLE ip:1.2.3.4 …`) and its window.
public struct BucketKey: Hashable, Sendable {
    public var name: String
    public var windowMs: Int64

    public init(name: String, windowMs: Int64) {
        self.name = name
        self.windowMs = windowMs
    }
}

/// Sliding windows for free-form identifiers, with a hard cap on how many are tracked.
///
/// Windows that ended are swept; when the cap is still reached, a new bucket is not
/// tracked (the request is allowed and `capacityRefusals` grows) rather than letting a
/// flood of distinct identifiers take the node's memory.
public struct ThrottleBuckets: Sendable {
    public let capacity: Int
    public private(set) var windows: [BucketKey: SlidingWindow] = [:]
    public private(set) var capacityRefusals: Int = 0
    /// When a full table last swept; a flood of new buckets sweeps at most once a second.
    private var lastFullSweepMs: Int64?
    static let fullSweepIntervalMs: Int64 = 1_000

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { windows.count }

    /// Checks and, when allowed, counts `cost` against the bucket.
    public mutating func hit(_ key: BucketKey, limit: Int64, cost: Int64, nowMs: Int64) -> SlidingWindow.Check {
        if windows[key] == nil && windows.count >= capacity {
            if lastFullSweepMs.map({ nowMs < $0 || nowMs - $0 >= Self.fullSweepIntervalMs }) ?? true {
                lastFullSweepMs = nowMs
                sweep(nowMs: nowMs)
            }
            if windows.count >= capacity {
                capacityRefusals += 1
                return SlidingWindow.Check(allowed: true, limit: limit, remaining: max(0, limit - cost), resetMs: key.windowMs, retryAfterMs: 0)
            }
        }
        return withWindow(key) { window in
            let check = window.check(cost: cost, limit: limit, windowMs: key.windowMs, nowMs: nowMs)
            if check.allowed { window.record(cost: cost) }
            return check
        }
    }

    private mutating func withWindow<Result>(_ key: BucketKey, _ body: (inout SlidingWindow) -> Result) -> Result {
        body(&windows[key, default: SlidingWindow()])
    }

    /// Merges a slot for a bucket from elsewhere (within the same cap).
    @discardableResult
    public mutating func merge(_ key: BucketKey, windowIndex: Int64, node: NodeOrdinal, count: Int64) -> Bool {
        guard windows[key] != nil || windows.count < capacity else {
            capacityRefusals += 1
            return false
        }
        return windows[key, default: SlidingWindow()].merge(windowIndex: windowIndex, node: node, count: count)
    }

    /// Drops every bucket whose windows have both ended.
    public mutating func sweep(nowMs: Int64) {
        windows = windows.filter { !$0.value.isExpired(nowMs: nowMs, windowMs: $0.key.windowMs) }
    }
}
