/// The identity of a caller's network source, as 128 bits: an IPv4 address mapped into
/// IPv6 space, an IPv6 address cut to its /64 (one customer's allocation), or a hash of
/// any other text. The shell parses; the core only compares.
public struct SourceIdentity: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// Counts failed attempts (malformed or unknown keys, refused tokens) per source and
/// refuses a source whose failures in the sliding window reach `limit`.
///
/// ## Structure
/// A bounded table of at most `capacity` sources, each with its *exact* failure counts for
/// the current and the previous fixed window (the sliding estimate is the previous count
/// weighted by its remaining overlap plus the current count, as for every limit). Sources
/// are kept in two least-recently-failed lists: those below the limit and those at or over
/// it. A failure from a source not in a full table takes the slot of
/// - the least recently failed source *below* the limit, or
/// - the least recently failed source at or over it, when more than half of the table is
///   over the limit (so offenders can never take the whole table from the rest).
///
/// A fixed count-min sketch was here before: a flood of malformed keys from random sources
/// filled every counter and then throttled everyone. A table that counts exactly and
/// forgets instead of overestimating cannot be turned against bystanders that way.
///
/// ## Guarantee
/// With `m = capacity` and `L = limit`:
/// - **No bystander is throttled.** Counts are never raised by anyone else's failures and
///   eviction only forgets, so a source's estimate is at most its true sliding count: a
///   source that sent fewer than `L` failures in the window (none at all, in particular) is
///   never refused, whatever the flood.
/// - **A real offender is caught unless about `m/2` failures of others come in between.**
///   A source below the limit loses its slot only as the least recently touched of the
///   below-limit list, which holds at least `m/2` slots once the table is full (offenders
///   are evicted instead while they hold more than half). So each of the other `m/2 − 1`
///   slots of that list must have been touched since its last failure: by a failure from
///   another source, or by a former offender falling back under the limit (one that sent `L`
///   failures to become one). With fewer such touches between two of its failures, its count
///   stays exact and it is refused when it reaches `L`. Once over the limit, it is forgotten
///   only after more than `m/2` other sources over the limit failed after it.
///
/// At the default `m = 65,536` that is over 32,000 failures between two consecutive ones of
/// the offender: a flood of 300,000 malformed keys from random sources with an offender's
/// 50 spread evenly through it (one every 6,000) catches the offender, and the flood's
/// sources, one failure each, are never refused.
///
/// ## Memory
/// Fixed by `m`: per slot, a 32-byte entry, 9 bytes of list links and about 40 bytes of
/// dictionary (16-byte key and 4-byte slot at a load of at most 3/4, rounded up to a power
/// of two): about 80 bytes, so `m = 65,536` holds about 5.1 MiB once full. Nothing is
/// allocated per check, and nothing per failure once the table has grown to `m`.
public struct SourceThrottle: Sendable {
    public let limit: Int64
    public let windowMs: Int64
    /// Most sources tracked.
    public let capacity: Int
    public static let defaultCapacity = 65_536

    /// One source's exact counts for two consecutive fixed windows.
    struct Entry: Sendable {
        var source: SourceIdentity
        /// The fixed window `current` counts.
        var windowIndex: Int64
        var current: UInt32
        var previous: UInt32
    }

    private static let belowLimit = 0
    private static let overLimit = 1
    private var slotBySource: [SourceIdentity: Int32] = [:]
    private var entries: [Entry] = []
    private var recency: RecencyLists
    /// Sources forgotten to make room for others: how hard the table is being flooded.
    public private(set) var evictions = 0

    /// - Parameters:
    ///   - limit: failures per sliding window after which a source is refused; `0` turns it off.
    ///   - capacity: most sources tracked (at least 2); see the type's guarantee for choosing it.
    public init(limit: Int64, windowMs: Int64, capacity: Int = SourceThrottle.defaultCapacity) {
        precondition(windowMs > 0 && capacity >= 2 && capacity <= Int(Int32.max))
        self.limit = limit
        self.windowMs = windowMs
        self.capacity = capacity
        recency = RecencyLists(lists: 2)
    }

    public var isEnabled: Bool { limit > 0 }

    /// Sources tracked now.
    public var count: Int { entries.count }

    /// Bytes the table holds once full, by the layout of its parts (see the type's memory note).
    public static func memoryBytes(capacity: Int) -> Int {
        var buckets = 1
        while buckets * 3 < capacity * 4 { buckets <<= 1 }
        let dictionary = buckets * (MemoryLayout<SourceIdentity>.stride + MemoryLayout<Int32>.stride) + buckets / 8
        return capacity * (MemoryLayout<Entry>.stride + RecencyLists.bytesPerSlot) + dictionary
    }

    /// The sliding-window count of failures from `source`, as far as the table remembers.
    public func failures(of source: SourceIdentity, nowMs: Int64) -> Double {
        guard let slot = slotBySource[source] else { return 0 }
        return estimate(entries[Int(slot)], nowMs: nowMs)
    }

    /// Whether `source` is refused now. A lookup and nothing else: no allocation, no change.
    public func isThrottled(_ source: SourceIdentity, nowMs: Int64) -> Bool {
        isEnabled && failures(of: source, nowMs: nowMs) >= Double(limit)
    }

    /// Counts one failure of `source`.
    public mutating func recordFailure(_ source: SourceIdentity, nowMs: Int64) {
        guard isEnabled else { return }
        let index = SlidingWindow.windowIndex(nowMs: nowMs, windowMs: windowMs)
        let slot: Int
        if let known = slotBySource[source] {
            slot = Int(known)
            entries[slot].count(inWindow: index)
        } else {
            slot = freeSlot(nowMs: nowMs)
            entries[slot] = Entry(source: source, windowIndex: index, current: 1, previous: 0)
            slotBySource[source] = Int32(slot)
        }
        let over = estimate(entries[slot], nowMs: nowMs) >= Double(limit)
        recency.touch(slot, in: over ? Self.overLimit : Self.belowLimit)
    }

    /// A slot for a new source: a new one while the table grows, else the one chosen by the
    /// eviction rule of the type's documentation.
    private mutating func freeSlot(nowMs: Int64) -> Int {
        if entries.count < capacity {
            entries.append(Entry(source: SourceIdentity(high: 0, low: 0), windowIndex: Int64.min, current: 0, previous: 0))
            recency.addSlot()
            return entries.count - 1
        }
        // Former offenders whose estimate fell under the limit rejoin the others, as if they
        // had just failed: keeping what they did costs nothing and they may well come back.
        while let oldest = recency.oldest(in: Self.overLimit), estimate(entries[oldest], nowMs: nowMs) < Double(limit) {
            recency.touch(oldest, in: Self.belowLimit)
        }
        let victim: Int
        if recency.count(in: Self.overLimit) > capacity / 2, let oldestOffender = recency.oldest(in: Self.overLimit) {
            victim = oldestOffender
        } else if let oldest = recency.oldest(in: Self.belowLimit) ?? recency.oldest(in: Self.overLimit) {
            victim = oldest
        } else {
            preconditionFailure("a full table has a source in one of its lists")
        }
        recency.remove(victim)
        slotBySource.removeValue(forKey: entries[victim].source)
        evictions += 1
        return victim
    }

    private func estimate(_ entry: Entry, nowMs: Int64) -> Double {
        let index = SlidingWindow.windowIndex(nowMs: nowMs, windowMs: windowMs)
        let overlap = Double(windowMs - (nowMs - index &* windowMs)) / Double(windowMs)
        if entry.windowIndex == index {
            return Double(entry.previous) * overlap + Double(entry.current)
        } else if entry.windowIndex == index - 1 {
            return Double(entry.current) * overlap
        } else if entry.windowIndex > index {
            // The clock stepped back past a window edge: the counts are still the best estimate.
            return Double(entry.previous) + Double(entry.current)
        }
        return 0
    }
}

extension SourceThrottle.Entry {
    /// Counts one failure in the fixed window `index`, moving the windows forward first.
    mutating func count(inWindow index: Int64) {
        if index == windowIndex + 1 {
            previous = current
            current = 0
        } else if index > windowIndex {
            previous = 0
            current = 0
        }
        if index > windowIndex { windowIndex = index }
        current = current == UInt32.max ? current : current + 1
    }
}
