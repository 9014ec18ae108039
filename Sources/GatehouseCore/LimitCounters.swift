/// The shared counters of every key's limits: one sliding window per limit of the record in
/// the same slot of `KeyIndex`, and which of them hold counts this node has not sent yet
/// (DESIGN §5: sent by need, `CounterSendRule`, not by rate).
///
/// Only counts: record ids and limits are read from the index the caller passes.
public struct LimitCounters: Sendable {
    /// One record's counters: a sliding window per limit and its sending state. Made on the
    /// record's first check or merge, so idle keys cost 4 bytes (`SparseSlots`).
    struct RecordCounters: SparseSlotEntry {
        /// One sliding window per limit position (made up to the highest position used).
        var windows: [SlidingWindow] = []
        /// Whether it holds counts this node has not sent yet.
        var dirty = false
        /// When its first unsent count was made (its staleness clock).
        var dirtySince: Int64 = 0
        /// Listed in `dirtySlots` for the next tick.
        var queued = false
        /// Weighed and found not due (see `waiting`): weigh again at this time, or once this
        /// node counted `countsToMatter` more (`countedSinceCheck`).
        var recheckAt: Int64 = 0
        var countsToMatter: Int64 = 0
        var countedSinceCheck: Int64 = 0
    }

    /// By record slot; read and counted in place by the verify path.
    private(set) var records = SparseSlots<RecordCounters>()
    /// Records to weigh at the next sync tick, each once (`queued`).
    private var dirtySlots: [Int] = []
    /// Dirty records weighed and found not due: they are weighed again only when their
    /// staleness deadline comes (`recheckAt`) or when this node counts enough more to matter
    /// (`countsToMatter`, own counts since they were weighed in `countedSinceCheck`), so a
    /// tick costs what changed, not every hot key again (ten thousand keys far from their
    /// limits cost one pass of integer compares per tick instead of ten thousand weighings).
    private var waiting: [Int] = []
    /// Every limit of every key, each a shared counter window (for status pages).
    public private(set) var windowCount = 0

    public init() {}

    /// Room for `slots` records without growing.
    mutating func reserveCapacity(_ slots: Int) { records.reserveCapacity(slots) }

    /// Counters for a record just added to the index in the next slot (made on first use).
    mutating func append(limits: [RateLimit]) {
        records.appendSlot()
        windowCount += limits.count
    }

    /// A record's limits changed: a limit kept (same name, count and window) keeps its counts.
    mutating func replaceLimits(slot: Int, from old: [RateLimit], to new: [RateLimit]) {
        guard old != new else { return }
        windowCount += new.count - old.count
        guard records.hasEntry(slot) else { return }
        let kept = records[slot].windows
        records[slot].windows = new.map { limit in
            old.firstIndex(of: limit).flatMap { $0 < kept.count ? kept[$0] : nil } ?? SlidingWindow()
        }
    }

    /// The window of a limit position, made (with those before it) on first use.
    private mutating func ensureWindow(slot: Int, position: Int) {
        if records[slot].windows.count <= position {
            records[slot].windows.append(contentsOf: repeatElement(SlidingWindow(), count: position + 1 - records[slot].windows.count))
        }
    }

    /// Whether a limit of the record in `slot` has room for `cost` now (no count made; the
    /// window moves on to `nowMs`).
    mutating func check(slot: Int, position: Int, cost: Int64, limit: RateLimit, nowMs: Int64) -> SlidingWindow.Check {
        ensureWindow(slot: slot, position: position)
        return records[slot].windows[position].check(cost: cost, limit: limit.limit, windowMs: limit.windowMs, nowMs: nowMs)
    }

    /// This node's own sliding count of a limit (after `check` moved the window to `nowMs`).
    func ownEstimate(slot: Int, position: Int, limit: RateLimit, nowMs: Int64) -> Double {
        window(slot: slot, position: position).ownEstimate(nowMs: nowMs, windowMs: limit.windowMs)
    }

    /// The window of a limit position as held (empty when none was made yet).
    func window(slot: Int, position: Int) -> SlidingWindow {
        guard records.hasEntry(slot) else { return SlidingWindow() }
        let windows = records[slot].windows
        return position < windows.count ? windows[position] : SlidingWindow()
    }

    /// Counts `cost` against every limit of the record in `slot` (checked first, so their
    /// windows exist), and marks it unsent.
    mutating func count(cost: Int64, slot: Int, nowMs: Int64) {
        guard records.hasEntry(slot) else { return }
        for position in records[slot].windows.indices { records[slot].windows[position].record(cost: cost) }
        guard cost > 0 && !records[slot].windows.isEmpty else { return }
        if markDirty(slot: slot, nowMs: nowMs) { return }
        records[slot].countedSinceCheck &+= cost
        if !records[slot].queued && records[slot].countedSinceCheck >= records[slot].countsToMatter { enqueue(slot) }
    }

    /// Marks the record unsent since `nowMs` and queues it to be weighed, unless it was
    /// unsent already; returns whether it was newly marked.
    private mutating func markDirty(slot: Int, nowMs: Int64) -> Bool {
        guard !records[slot].dirty else { return false }
        records[slot].dirty = true
        records[slot].dirtySince = nowMs
        enqueue(slot)
        return true
    }

    private mutating func enqueue(_ slot: Int) {
        records[slot].queued = true
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
        for slot in waiting where records[slot].dirty && !records[slot].queued {
            if records[slot].recheckAt <= nowMs {
                records[slot].queued = true
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
        for slot in slots where slot < index.count && records.hasEntry(slot) {
            records[slot].queued = false
            guard records[slot].dirty else { continue }
            let limits = index.limits(slot: slot)
            let unsentForMs = nowMs &- records[slot].dirtySince
            var due = false
            var anyUnsent = false
            var moreCounts = Int64.max
            var afterMs = Int64.max
            for (position, limit) in limits.enumerated() {
                let window = window(slot: slot, position: position)
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
                records[slot].countsToMatter = moreCounts
                records[slot].countedSinceCheck = 0
                records[slot].recheckAt = afterMs == .max ? .max : nowMs &+ afterMs
                waiting.append(slot)
                continue
            }
            records[slot].dirty = false
            let id = index.id(slot: slot)
            for (position, limit) in limits.enumerated() where position < records[slot].windows.count {
                let bucket = CounterBucket.keyLimit(keyID: id, limit: limit.name, windowMs: limit.windowMs)
                for own in records[slot].windows[position].unsentOwnSlots {
                    changes.append(CounterSlot(bucket: bucket, windowIndex: own.windowIndex, count: own.count))
                }
                records[slot].windows[position].markSynced()
            }
        }
        return changes
    }

    /// Merges `node`'s count for one window of a limit (`position`) of the record in `slot`.
    /// Returns whether it grew the count (news, which relays pass on).
    mutating func merge(slot: Int, position: Int, windowIndex: Int64, node: NodeOrdinal, count: Int64) -> Bool {
        ensureWindow(slot: slot, position: position)
        return records[slot].windows[position].merge(windowIndex: windowIndex, node: node, count: count)
    }

    /// Our own count of one window of a limit, restored after a restart (`SlidingWindow.restoreOwn`).
    /// The record is marked unsent when it grew: the peers know the restored part, not what
    /// was counted since the start on top of it.
    mutating func restoreOwn(slot: Int, position: Int, windowIndex: Int64, count: Int64, restoredBefore base: Int64, nowMs: Int64) -> Bool {
        ensureWindow(slot: slot, position: position)
        guard records[slot].windows[position].restoreOwn(windowIndex: windowIndex, count: count, restoredBefore: base) else { return false }
        if !markDirty(slot: slot, nowMs: nowMs) && !records[slot].queued { enqueue(slot) }
        return true
    }

    /// The slots held for `node` in some records' limits, so a caller can walk every record
    /// in small ranges instead of holding the verify path's lock over all of them.
    func slots(of node: NodeOrdinal, inRecords range: Range<Int>, in index: KeyIndex) -> [CounterSlot] {
        var slots: [CounterSlot] = []
        for slot in range.clamped(to: records.indices) where records.hasEntry(slot) {
            let windows = records[slot].windows
            let id = index.id(slot: slot)
            for (position, limit) in index.limits(slot: slot).enumerated() where position < windows.count {
                let bucket = CounterBucket.keyLimit(keyID: id, limit: limit.name, windowMs: limit.windowMs)
                slots += windows[position].counterSlots(of: node, bucket: bucket)
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
