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

/// Counts failed verifies (malformed or unknown keys) per source address and refuses a
/// source that has failed too often in a sliding window.
///
/// Memory is fixed whatever the number of sources: a count-min sketch (several rows of
/// counters, each source hashed to one counter per row, the minimum is the estimate) per
/// fixed window. A heavy attacker can only raise estimates of sources that collide with
/// it in every row; the seeds are random so collisions cannot be aimed.
public struct SourceThrottle: Sendable {
    public let limit: Int64
    public let windowMs: Int64
    private let rowWidth: Int
    private let seeds: [UInt64]
    private var currentIndex: Int64 = Int64.min
    private var current: [UInt32]
    private var previous: [UInt32]

    /// - Parameters:
    ///   - limit: failures per window after which a source is refused; `0` turns it off.
    ///   - rowWidth: counters per row, rounded up to a power of two.
    ///   - seeds: one random seed per row (from the shell's random source).
    public init(limit: Int64, windowMs: Int64, rowWidth: Int = 4096, seeds: [UInt64]) {
        precondition(windowMs > 0 && !seeds.isEmpty)
        self.limit = limit
        self.windowMs = windowMs
        var width = 1
        while width < rowWidth { width <<= 1 }
        self.rowWidth = width
        self.seeds = seeds
        current = [UInt32](repeating: 0, count: width * seeds.count)
        previous = current
    }

    public var isEnabled: Bool { limit > 0 }

    @inline(__always)
    private func cell(_ source: SourceIdentity, row: Int) -> Int {
        var value = source.high ^ seeds[row]
        value = (value ^ (value >> 33)) &* 0xff51_afd7_ed55_8ccd
        value ^= source.low
        value = (value ^ (value >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        value ^= value >> 33
        return row * rowWidth + Int(truncatingIfNeeded: value & UInt64(rowWidth - 1))
    }

    private mutating func advance(nowMs: Int64) {
        let index = SlidingWindow.windowIndex(nowMs: nowMs, windowMs: windowMs)
        guard index > currentIndex else { return }
        if index == currentIndex &+ 1 {
            swap(&previous, &current)
        } else {
            for position in previous.indices { previous[position] = 0 }
        }
        for position in current.indices { current[position] = 0 }
        currentIndex = index
    }

    /// The sliding-window estimate of failures from `source`.
    public mutating func failures(of source: SourceIdentity, nowMs: Int64) -> Double {
        advance(nowMs: nowMs)
        let elapsed = max(0, nowMs - currentIndex &* windowMs)
        let overlap = Double(max(0, windowMs - elapsed)) / Double(windowMs)
        var currentMin = UInt32.max
        var previousMin = UInt32.max
        for row in seeds.indices {
            let position = cell(source, row: row)
            currentMin = min(currentMin, current[position])
            previousMin = min(previousMin, previous[position])
        }
        return Double(previousMin) * overlap + Double(currentMin)
    }

    public mutating func isThrottled(_ source: SourceIdentity, nowMs: Int64) -> Bool {
        isEnabled && failures(of: source, nowMs: nowMs) >= Double(limit)
    }

    /// Counts one failure. Conservative update: only the smallest counters grow, which keeps
    /// estimates of innocent sources that share a counter as low as possible.
    public mutating func recordFailure(_ source: SourceIdentity, nowMs: Int64) {
        guard isEnabled else { return }
        advance(nowMs: nowMs)
        var smallest = UInt32.max
        for row in seeds.indices { smallest = min(smallest, current[cell(source, row: row)]) }
        guard smallest < UInt32.max else { return }
        for row in seeds.indices {
            let position = cell(source, row: row)
            if current[position] == smallest { current[position] = smallest + 1 }
        }
    }
}
