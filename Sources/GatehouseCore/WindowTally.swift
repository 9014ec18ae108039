/// Counts occurrences per key in fixed windows of `windowMs` (aligned to the epoch), keeping
/// what the window's first occurrence said (`Note`), so many occurrences become one event.
///
/// Bounded: at most `capacity` keys in the open windows. A new key in a full table first
/// closes the windows that have ended; when none has, it is not counted (`dropped`), so a
/// flood of distinct keys costs neither memory nor time beyond the bound. An occurrence of a
/// key already held costs a dictionary update and nothing else.
public struct WindowTally<Key: Hashable & Sendable, Note: Sendable>: Sendable {
    public let windowMs: Int64
    public let capacity: Int

    struct Open: Sendable {
        var window: Int64
        var count: Int64
        var first: Note
    }

    /// A window that ended, with its count and its first occurrence's note.
    public struct Closed: Sendable {
        public var key: Key
        public var windowStartMs: Int64
        public var count: Int64
        public var first: Note
    }

    private var open: [Key: Open] = [:]
    /// Windows closed by a later occurrence of their key, until `close` hands them out.
    private var closed: [Closed] = []
    /// Occurrences of new keys not counted because the table was full.
    public private(set) var dropped = 0
    /// The window the last scan for ended windows ran in: every key held since is in it or a
    /// later one, so a full table meeting new keys in the same window is not scanned again
    /// (a flood of distinct keys would otherwise scan the whole table per occurrence).
    private var scannedInWindow = Int64.min

    public init(windowMs: Int64, capacity: Int) {
        precondition(windowMs > 0 && capacity > 0)
        self.windowMs = windowMs
        self.capacity = capacity
    }

    public var count: Int { open.count }

    private func window(_ nowMs: Int64) -> Int64 { nowMs >= 0 ? nowMs / windowMs : (nowMs - windowMs + 1) / windowMs }

    /// Counts one occurrence and returns the key's count in the current window (1 for the
    /// window's first), or 0 when the table was full. `note` is read only for a window's first.
    public mutating func add(_ key: Key, nowMs: Int64, note: () -> Note) -> Int64 {
        let current = window(nowMs)
        if let index = open.index(forKey: key) {
            let entry = open.values[index]
            if entry.window == current {
                open.values[index].count += 1
                return entry.count + 1
            }
            closed.append(Closed(key: key, windowStartMs: entry.window * windowMs, count: entry.count, first: entry.first))
            open.values[index] = Open(window: current, count: 1, first: note())
            return 1
        }
        if open.count >= capacity {
            closeEnded(before: current)
            guard open.count < capacity else {
                dropped += 1
                return 0
            }
        }
        open[key] = Open(window: current, count: 1, first: note())
        return 1
    }

    /// Hands out every window that has ended by `nowMs`, oldest first within each key.
    public mutating func close(nowMs: Int64) -> [Closed] {
        closeEnded(before: window(nowMs))
        defer { closed = [] }
        return closed
    }

    private mutating func closeEnded(before current: Int64) {
        guard current > scannedInWindow else { return }
        scannedInWindow = current
        guard open.contains(where: { $0.value.window < current }) else { return }
        for (key, entry) in open where entry.window < current {
            closed.append(Closed(key: key, windowStartMs: entry.window * windowMs, count: entry.count, first: entry.first))
            open[key] = nil
        }
    }
}
