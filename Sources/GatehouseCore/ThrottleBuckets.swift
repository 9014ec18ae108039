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
/// Every hit is counted: a table that admitted new buckets uncounted once full let one
/// client fill it (long windows do not expire) and switch THROTTLE off for everyone after.
/// When the table is full, a new bucket first sweeps buckets whose windows have both ended
/// (at most once a second: a sweep reads the whole table), and if the table is still full
/// it **evicts the least recently used bucket**. Refusing instead would turn a full table
/// into a refusal for every new caller; evicting costs only the forgotten bucket's count
/// (its next hit starts from zero), and the buckets forgotten first are those nobody used
/// for longest — a flood of new names mostly evicts its own earlier names, while buckets in
/// use keep moving to the recent end. The answer says so (`evicted`) and `evictions` counts
/// it for the metrics.
public struct ThrottleBuckets: Sendable {
    public let capacity: Int

    struct Entry: Sendable {
        var window: SlidingWindow
        var slot: Int32
    }

    private var entries: [BucketKey: Entry] = [:]
    /// The key in each slot, for eviction; `nil` for a free slot.
    private var keyInSlot: [BucketKey?] = []
    private var freeSlots: [Int32] = []
    private var recency = RecencyLists(lists: 1)
    /// Buckets forgotten while still live, to make room for new ones.
    public private(set) var evictions: Int = 0
    /// When a full table last swept; a flood of new buckets sweeps at most once a second.
    private var lastFullSweepMs: Int64?
    static let fullSweepIntervalMs: Int64 = 1_000

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(Int32.max))
        self.capacity = capacity
    }

    public var count: Int { entries.count }

    /// The window of one bucket, if it is tracked.
    public func window(for key: BucketKey) -> SlidingWindow? {
        entries[key]?.window
    }

    /// Every tracked bucket and its window.
    public func forEachWindow(_ body: (BucketKey, SlidingWindow) -> Void) {
        for (key, entry) in entries { body(key, entry.window) }
    }

    /// Checks and, when allowed, counts `cost` against the bucket, making room for it first
    /// when it is new and the table is full.
    public mutating func hit(_ key: BucketKey, limit: Int64, cost: Int64, nowMs: Int64) -> ThrottleAnswer {
        let (position, evicted) = locate(key, nowMs: nowMs)
        let check = entries.values[position].window.check(cost: cost, limit: limit, windowMs: key.windowMs, nowMs: nowMs)
        if check.allowed { entries.values[position].window.record(cost: cost) }
        return ThrottleAnswer(check, evicted: evicted)
    }

    /// Merges a slot for a bucket from elsewhere, under the same cap and eviction rule (without
    /// the sweep, which the shell's timer runs anyway: a merge carries no time).
    @discardableResult
    public mutating func merge(_ key: BucketKey, windowIndex: Int64, node: NodeOrdinal, count: Int64) -> Bool {
        let (position, _) = locate(key, nowMs: nil)
        return entries.values[position].window.merge(windowIndex: windowIndex, node: node, count: count)
    }

    /// Our own count of a bucket's window, restored after a restart (`SlidingWindow.restoreOwn`).
    @discardableResult
    public mutating func restoreOwn(_ key: BucketKey, windowIndex: Int64, count: Int64, restoredBefore base: Int64) -> Bool {
        let (position, _) = locate(key, nowMs: nil)
        return entries.values[position].window.restoreOwn(windowIndex: windowIndex, count: count, restoredBefore: base)
    }

    /// Drops every bucket whose windows have both ended.
    public mutating func sweep(nowMs: Int64) {
        var ended: [BucketKey] = []
        for (key, entry) in entries where entry.window.isExpired(nowMs: nowMs, windowMs: key.windowMs) {
            ended.append(key)
        }
        for key in ended { remove(key) }
    }

    /// The bucket's position in `entries`, created (and marked most recently used) as needed;
    /// `evicted` when another live bucket was forgotten to make room. A full table is swept
    /// first when `nowMs` is given.
    private mutating func locate(_ key: BucketKey, nowMs: Int64?) -> (Dictionary<BucketKey, Entry>.Index, evicted: Bool) {
        if let position = entries.index(forKey: key) {
            recency.touch(Int(entries.values[position].slot), in: 0)
            return (position, false)
        }
        var evicted = false
        if entries.count >= capacity {
            if let nowMs, lastFullSweepMs.map({ nowMs < $0 || nowMs - $0 >= Self.fullSweepIntervalMs }) ?? true {
                lastFullSweepMs = nowMs
                sweep(nowMs: nowMs)
            }
            if entries.count >= capacity, let oldest = recency.oldest(in: 0), let victim = keyInSlot[oldest] {
                remove(victim)
                evictions += 1
                evicted = true
            }
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
        } else {
            slot = keyInSlot.count
            keyInSlot.append(nil)
            recency.addSlot()
        }
        keyInSlot[slot] = key
        recency.touch(slot, in: 0)
        entries[key] = Entry(window: SlidingWindow(), slot: Int32(slot))
        return (entries.index(forKey: key)!, evicted)
    }

    private mutating func remove(_ key: BucketKey) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        let slot = Int(entry.slot)
        recency.remove(slot)
        keyInSlot[slot] = nil
        freeSlots.append(entry.slot)
    }
}
