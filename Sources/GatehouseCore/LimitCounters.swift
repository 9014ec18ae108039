/// The shared counters of every key's limits: one sliding window per limit of the record in
/// the same slot of `KeyIndex`, and which of them hold counts this node has not sent yet
/// (DESIGN §5: sent by need, `CounterSendRule`, not by rate).
///
/// Only counts: record ids and limits are read from the index the caller passes.
public struct LimitCounters: Sendable {
    /// One sliding window per limit, by record slot; read and counted in place by the
    /// verify path.
    private(set) var windows: [[SlidingWindow]] = []
    /// A flag per slot, so the hot path marks a record dirty without hashing.
    private var dirty: [Bool] = []
    /// When each dirty record's first unsent count was made (its staleness clock).
    private var dirtySince: [Int64] = []
    /// Records to weigh at the next sync tick, each once (`queued`).
    private var dirtySlots: [Int] = []
    private var queued: [Bool] = []
    /// Dirty records weighed and found not due: they are weighed again only when their
    /// staleness deadline comes (`recheckAt`) or when this node counts enough more to matter
    /// (`countsToMatter`, own counts since they were weighed in `countedSinceCheck`), so a
    /// tick costs what changed, not every hot key again (ten thousand keys far from their
    /// limits cost one pass of integer compares per tick instead of ten thousand weighings).
    private var waiting: [Int] = []
    private var recheckAt: [Int64] = []
    private var countsToMatter: [Int64] = []
    private var countedSinceCheck: [Int64] = []
    /// Every limit of every key, each a shared counter window (for status pages).
    public private(set) var windowCount = 0

    public init() {}

    /// Counters for a record just added to the index in the next slot.
    mutating func append(limits: [RateLimit]) {
        windows.append(limits.map { _ in SlidingWindow() })
        dirty.append(false)
        dirtySince.append(0)
        queued.append(false)
        recheckAt.append(0)
        countsToMatter.append(0)
        countedSinceCheck.append(0)
        windowCount += limits.count
    }

    /// A record's limits changed: a limit kept (same name, count and window) keeps its counts.
    mutating func replaceLimits(slot: Int, from old: [RateLimit], to new: [RateLimit]) {
        guard old != new else { return }
        windowCount += new.count - old.count
        windows[slot] = new.map { limit in old.firstIndex(of: limit).map { windows[slot][$0] } ?? SlidingWindow() }
    }

    /// Whether a limit of the record in `slot` has room for `cost` now (no count made; the
    /// window moves on to `nowMs`).
    mutating func check(slot: Int, position: Int, cost: Int64, limit: RateLimit, nowMs: Int64) -> SlidingWindow.Check {
        windows[slot][position].check(cost: cost, limit: limit.limit, windowMs: limit.windowMs, nowMs: nowMs)
    }

    /// This node's own sliding count of a limit (after `check` moved the window to `nowMs`).
    func ownEstimate(slot: Int, position: Int, limit: RateLimit, nowMs: Int64) -> Double {
        windows[slot][position].ownEstimate(nowMs: nowMs, windowMs: limit.windowMs)
    }

    /// Counts `cost` against every limit of the record in `slot`, and marks it unsent.
    mutating func count(cost: Int64, slot: Int, nowMs: Int64) {
        for position in windows[slot].indices { windows[slot][position].record(cost: cost) }
        guard cost > 0 && !windows[slot].isEmpty else { return }
        if !dirty[slot] {
            dirty[slot] = true
            dirtySince[slot] = nowMs
            enqueue(slot)
            return
        }
        countedSinceCheck[slot] &+= cost
        if !queued[slot] && countedSinceCheck[slot] >= countsToMatter[slot] { enqueue(slot) }
    }

    private mutating func enqueue(_ slot: Int) {
        queued[slot] = true
        dirtySlots.append(slot)
    }

    /// The records to weigh at `nowMs`: those counted since the last tick, and those waiting
    /// whose deadline came or whose new counts could matter; handed out so the caller can
    /// weigh them in small batches (`takeChanges(ofRecords:…)`) instead of holding the verify
    /// path's lock over all of them at once. They stay marked dirty. Without a time, every
    /// waiting record is handed out.
    mutating func takeDirtyRecords(nowMs: Int64 = .max) -> [Int] {
        var taken = dirtySlots
        dirtySlots.removeAll(keepingCapacity: true)
        var stillWaiting: [Int] = []
        stillWaiting.reserveCapacity(waiting.count)
        for slot in waiting where dirty[slot] && !queued[slot] {
            if recheckAt[slot] <= nowMs {
                queued[slot] = true
                taken.append(slot)
            } else {
                stillWaiting.append(slot)
            }
        }
        waiting = stillWaiting
        return taken
    }

    /// The own slots of those `records` whose unsent counts are due under `rule`; records
    /// not due yet stay dirty for a later call.
    mutating func takeChanges(
        ofRecords slots: ArraySlice<Int>, in index: KeyIndex, nowMs: Int64, rule: CounterSendRule, nodes: Int
    ) -> [CounterSlot] {
        var changes: [CounterSlot] = []
        for slot in slots where slot < index.count {
            queued[slot] = false
            guard dirty[slot] else { continue }
            let limits = index.records[slot].limits
            let unsentForMs = nowMs &- dirtySince[slot]
            var due = false
            var anyUnsent = false
            var moreCounts = Int64.max
            var afterMs = Int64.max
            for (position, limit) in limits.enumerated() {
                let window = windows[slot][position]
                anyUnsent = anyUnsent || window.unsyncedOwn > 0
                let next = rule.nextCheck(
                    unsent: window.unsyncedOwn, estimate: window.estimate(nowMs: nowMs, windowMs: limit.windowMs), limit: limit.limit,
                    windowMs: limit.windowMs, nodes: nodes, unsentForMs: unsentForMs, phase: Double(slot & 15) / 32)
                guard let next else {
                    due = true
                    break
                }
                moreCounts = min(moreCounts, next.moreCounts)
                afterMs = min(afterMs, next.afterMs)
            }
            guard due || !anyUnsent else {
                countsToMatter[slot] = moreCounts
                countedSinceCheck[slot] = 0
                recheckAt[slot] = afterMs == .max ? .max : nowMs &+ afterMs
                waiting.append(slot)
                continue
            }
            dirty[slot] = false
            let id = index.records[slot].id
            for (position, limit) in limits.enumerated() {
                let bucket = CounterBucket.keyLimit(keyID: id, limit: limit.name, windowMs: limit.windowMs)
                for own in windows[slot][position].unsentOwnSlots {
                    changes.append(CounterSlot(bucket: bucket, windowIndex: own.windowIndex, count: own.count))
                }
                windows[slot][position].markSynced()
            }
        }
        return changes
    }

    /// Merges `node`'s count for one window of a limit (`position`) of the record in `slot`.
    /// Returns whether it grew the count (news, which relays pass on).
    mutating func merge(slot: Int, position: Int, windowIndex: Int64, node: NodeOrdinal, count: Int64) -> Bool {
        windows[slot][position].merge(windowIndex: windowIndex, node: node, count: count)
    }

    /// The slots held for `node` in some records' limits, so a caller can walk every record
    /// in small ranges instead of holding the verify path's lock over all of them.
    func slots(of node: NodeOrdinal, inRecords range: Range<Int>, in index: KeyIndex) -> [CounterSlot] {
        var slots: [CounterSlot] = []
        for slot in range.clamped(to: windows.indices) {
            let record = index.records[slot]
            for (position, limit) in record.limits.enumerated() {
                let bucket = CounterBucket.keyLimit(keyID: record.id, limit: limit.name, windowMs: limit.windowMs)
                slots += windows[slot][position].counterSlots(of: node, bucket: bucket)
            }
        }
        return slots
    }
}

extension SlidingWindow {
    /// `node`'s counts in the two windows held, as slots of `bucket` (empty windows left out).
    func counterSlots(of node: NodeOrdinal, bucket: CounterBucket) -> [CounterSlot] {
        [previous, current].compactMap { slots in
            let count = slots.count(of: node)
            return count > 0 && slots.index != Int64.min ? CounterSlot(bucket: bucket, windowIndex: slots.index, count: count) : nil
        }
    }
}
