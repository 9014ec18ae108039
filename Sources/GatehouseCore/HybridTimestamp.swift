/// A hybrid logical clock reading: wall-clock milliseconds, a logical counter for events
/// within the same millisecond, and the writing node as the final tie-breaker.
///
/// Ordering is total and the same on every node, which is what last-writer-wins needs.
public struct HybridTimestamp: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var wallMs: Int64
    public var logical: UInt32
    public var node: String

    public init(wallMs: Int64, logical: UInt32, node: String) {
        self.wallMs = wallMs
        self.logical = logical
        self.node = node
    }

    public static let zero = HybridTimestamp(wallMs: 0, logical: 0, node: "")

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.wallMs != rhs.wallMs { return lhs.wallMs < rhs.wallMs }
        if lhs.logical != rhs.logical { return lhs.logical < rhs.logical }
        return lhs.node < rhs.node
    }

    /// `wall.logical@node`, also the JSON and database form.
    public var description: String { "\(wallMs).\(logical)@\(node)" }

    public init?(parsing text: String) {
        guard let at = text.firstIndex(of: "@") else { return nil }
        let clock = text[..<at].split(separator: ".", omittingEmptySubsequences: false)
        guard clock.count == 2, let wall = Int64(clock[0]), let logical = UInt32(clock[1]) else { return nil }
        self.init(wallMs: wall, logical: logical, node: String(text[text.index(after: at)...]))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = HybridTimestamp(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a wall.logical@node timestamp"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Issues hybrid timestamps that never go backwards, even when the wall clock does.
public struct HybridClock: Sendable {
    public let node: String
    public private(set) var last: HybridTimestamp

    public init(node: String) {
        self.node = node
        last = HybridTimestamp(wallMs: 0, logical: 0, node: node)
    }

    /// A timestamp for a local write at wall time `nowMs`.
    public mutating func tick(nowMs: Int64) -> HybridTimestamp {
        if nowMs > last.wallMs {
            last = HybridTimestamp(wallMs: nowMs, logical: 0, node: node)
        } else {
            last = Self.successor(wallMs: last.wallMs, logical: last.logical, node: node)
        }
        return last
    }

    /// The next reading after `(wallMs, logical)`; when the logical counter is exhausted the
    /// clock moves to the next millisecond rather than wrap around and go backwards. At the
    /// very last reading it stays there instead of trapping (replicas refuse versions that far
    /// ahead, so only a local clock at the end of time gets here).
    private static func successor(wallMs: Int64, logical: UInt32, node: String) -> HybridTimestamp {
        if logical < UInt32.max { return HybridTimestamp(wallMs: wallMs, logical: logical + 1, node: node) }
        return wallMs < Int64.max
            ? HybridTimestamp(wallMs: wallMs + 1, logical: 0, node: node)
            : HybridTimestamp(wallMs: wallMs, logical: logical, node: node)
    }

    /// Moves the clock past a timestamp seen from elsewhere (a replicated or stored write).
    public mutating func observe(_ remote: HybridTimestamp, nowMs: Int64) {
        let wall = max(nowMs, remote.wallMs, last.wallMs)
        if wall == last.wallMs && wall == remote.wallMs {
            last = Self.successor(wallMs: wall, logical: max(last.logical, remote.logical), node: node)
        } else if wall == last.wallMs {
            last = Self.successor(wallMs: wall, logical: last.logical, node: node)
        } else if wall == remote.wallMs {
            last = Self.successor(wallMs: wall, logical: remote.logical, node: node)
        } else {
            last = HybridTimestamp(wallMs: wall, logical: 0, node: node)
        }
    }
}
