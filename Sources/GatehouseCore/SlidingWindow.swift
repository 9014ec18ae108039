/// A sliding-window counter: the previous fixed window weighted by how much of it still
/// overlaps the sliding window, plus the current fixed window.
///
/// Pure value type: the caller passes the time, the window length and the limit.
public struct SlidingWindow: Hashable, Sendable {
    public private(set) var current: WindowSlots
    public private(set) var previous: WindowSlots
    /// This node's own count in each window as last sent to peers.
    private var currentSent: Int64 = 0
    private var previousSent: Int64 = 0

    /// What this node counted since its slots were last sent to peers: the part of the count
    /// the rest of the cluster cannot know yet.
    public var unsyncedOwn: Int64 {
        max(0, current.own &- currentSent) &+ max(0, previous.own &- previousSent)
    }

    /// This node's own slots with counts its peers have not been sent yet (at most the
    /// previous and the current window: older ones no longer count).
    public var unsentOwnSlots: [(windowIndex: Int64, count: Int64)] {
        var slots: [(windowIndex: Int64, count: Int64)] = []
        if previous.own > previousSent && previous.index != Int64.min { slots.append((previous.index, previous.own)) }
        if current.own > currentSent && current.index != Int64.min { slots.append((current.index, current.own)) }
        return slots
    }

    public init() {
        current = WindowSlots(index: Int64.min)
        previous = WindowSlots(index: Int64.min)
    }

    /// What a check would do at a given time, and what it tells the caller.
    public struct Check: Hashable, Sendable {
        public var allowed: Bool
        public var limit: Int64
        /// What stays available after this request (if it is admitted).
        public var remaining: Int64
        /// Milliseconds until the current fixed window ends.
        public var resetMs: Int64
        /// When refused: milliseconds until the same request would fit, assuming no other
        /// traffic. `0` when allowed.
        public var retryAfterMs: Int64

        public init(allowed: Bool, limit: Int64, remaining: Int64, resetMs: Int64, retryAfterMs: Int64) {
            self.allowed = allowed
            self.limit = limit
            self.remaining = remaining
            self.resetMs = resetMs
            self.retryAfterMs = retryAfterMs
        }
    }

    @inlinable
    static func windowIndex(nowMs: Int64, windowMs: Int64) -> Int64 {
        let quotient = nowMs / windowMs
        return (nowMs % windowMs < 0) ? quotient - 1 : quotient
    }

    /// Moves the fixed windows forward to the one containing `nowMs`.
    public mutating func advance(nowMs: Int64, windowMs: Int64) {
        let index = Self.windowIndex(nowMs: nowMs, windowMs: windowMs)
        // Time that went backwards past a window edge keeps the counts: still the best estimate.
        if index > current.index { shift(to: index) }
    }

    /// Makes `index` the current window; the old current one becomes the previous window
    /// only if it is the one just before.
    private mutating func shift(to index: Int64) {
        if index == current.index &+ 1 {
            previous = current
            previousSent = currentSent
        } else {
            previous = WindowSlots(index: index &- 1)
            previousSent = 0
        }
        current = WindowSlots(index: index)
        currentSent = 0
    }

    /// The weighted count at `nowMs`, assuming `advance` was called for that time.
    public func estimate(nowMs: Int64, windowMs: Int64) -> Double {
        // Clamped: after a wall-clock step back past an edge the previous window must not weigh over 100 %.
        let elapsed = max(0, nowMs - current.index &* windowMs)
        let overlap = Double(max(0, windowMs - elapsed)) / Double(windowMs)
        return Double(previous.total) * overlap + Double(current.total)
    }

    /// This node's own part of `estimate`: what it admitted itself, weighted the same way.
    /// It only grows by this node's own counts, and is continuous at window edges (the
    /// escrow of `WindowShare` relies on both).
    public func ownEstimate(nowMs: Int64, windowMs: Int64) -> Double {
        let elapsed = max(0, nowMs - current.index &* windowMs)
        let overlap = Double(max(0, windowMs - elapsed)) / Double(windowMs)
        return Double(previous.own) * overlap + Double(current.own)
    }

    /// Advances to `nowMs` and checks whether `cost` more fits under `limit`, without counting it.
    public mutating func check(cost: Int64, limit: Int64, windowMs: Int64, nowMs: Int64) -> Check {
        advance(nowMs: nowMs, windowMs: windowMs)
        let elapsed = max(0, nowMs - current.index &* windowMs)
        let resetMs = max(0, windowMs - elapsed)
        let count = estimate(nowMs: nowMs, windowMs: windowMs)
        let after = count + Double(cost)
        if after <= Double(limit) {
            let remaining = Self.clampedInt64((Double(limit) - after).rounded(.down))
            return Check(allowed: true, limit: limit, remaining: max(0, remaining), resetMs: resetMs, retryAfterMs: 0)
        }
        let remaining = max(0, Self.clampedInt64((Double(limit) - count).rounded(.down)))
        return Check(
            allowed: false, limit: limit, remaining: remaining, resetMs: resetMs,
            retryAfterMs: retryAfter(cost: cost, limit: limit, windowMs: windowMs, elapsed: elapsed)
        )
    }

    /// The earliest wait after which `cost` fits, if nothing else is counted meanwhile.
    /// A cost above the limit never fits; it gets two windows, the longest any estimate lasts.
    func retryAfter(cost: Int64, limit: Int64, windowMs: Int64, elapsed: Int64) -> Int64 {
        guard cost <= limit else { return 2 * windowMs }
        let window = Double(windowMs)
        let untilEdge = Double(windowMs - elapsed)
        let previousTotal = Double(previous.total)
        let currentTotal = Double(current.total)
        let headroomNow = Double(limit) - currentTotal - Double(cost)
        // Still inside this window: the previous window's weight decays linearly.
        if headroomNow >= 0 && previousTotal > 0 {
            let wait = untilEdge - headroomNow * window / previousTotal
            return max(1, Self.clampedInt64(wait.rounded(.up)))
        }
        // After the edge: today's count becomes the decaying previous window.
        guard currentTotal > 0 else { return max(1, Self.clampedInt64(untilEdge.rounded(.up))) }
        let intoNext = max(0, window - (Double(limit) - Double(cost)) * window / currentTotal)
        return max(1, Self.clampedInt64((untilEdge + intoNext).rounded(.up)))
    }

    /// `value` as an `Int64`, saturating at both ends (0 for NaN). Estimates are doubles, and
    /// `Int64(_:)` traps outside its range: a limit near `Int64.max` (the API accepts any
    /// positive limit) gives `Double(limit)` = 2^63, one past it (see fuzz/README.md).
    static func clampedInt64(_ value: Double) -> Int64 {
        guard !value.isNaN else { return 0 }
        if value >= 9_223_372_036_854_775_808.0 { return .max }
        if value < -9_223_372_036_854_775_808.0 { return .min }
        return Int64(value)
    }

    /// Counts `cost` in this node's slot of the current window.
    public mutating func record(cost: Int64) {
        current.own &+= cost
    }

    /// This node's slots were just sent to its peers.
    public mutating func markSynced() {
        currentSent = current.own
        previousSent = previous.own
    }

    /// Merges a slot received from elsewhere. Windows older than the previous one are ignored.
    /// Returns whether the merge added anything (so relays know the news is worth passing on).
    @discardableResult
    public mutating func merge(windowIndex: Int64, node: NodeOrdinal, count: Int64) -> Bool {
        if windowIndex > current.index { shift(to: windowIndex) }
        if windowIndex == current.index {
            // Our own count restored from a peer's copy: the peers know it already.
            if node == 0 { currentSent = max(currentSent, count) }
            return current.merge(node: node, count: count)
        } else if windowIndex == previous.index {
            if node == 0 { previousSent = max(previousSent, count) }
            return previous.merge(node: node, count: count)
        }
        return false
    }

    /// Our own count of `windowIndex` from before a restart, as a peer kept it, `base` of it
    /// added already (by an earlier answer). What this node counted since it started is
    /// added to, not merged with, the restored count: the peers' copies keep the larger of
    /// two counts, so they never saw a restarted node's counts below its old ones (they are
    /// kept back from them until the recovery ends). Returns whether the count grew.
    @discardableResult
    public mutating func restoreOwn(windowIndex: Int64, count: Int64, restoredBefore base: Int64) -> Bool {
        guard count > base else { return false }
        if windowIndex > current.index { shift(to: windowIndex) }
        if windowIndex == current.index {
            currentSent = max(currentSent, count)
            return current.merge(node: 0, count: current.own &+ (count &- base))
        } else if windowIndex == previous.index {
            previousSent = max(previousSent, count)
            return previous.merge(node: 0, count: previous.own &+ (count &- base))
        }
        return false
    }

    /// Whether both windows lie wholly in the past at `nowMs`, so the counter can be dropped.
    public func isExpired(nowMs: Int64, windowMs: Int64) -> Bool {
        Self.windowIndex(nowMs: nowMs, windowMs: windowMs) > current.index &+ 1
    }
}
