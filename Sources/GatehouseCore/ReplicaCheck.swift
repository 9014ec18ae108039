/// What a node checks in every record and counter slot a peer sends before it holds any of
/// it: the same rules the admin API applies to a write, plus bounds only remote data needs
/// (a version from a clock too far ahead, a window far from now, a count that could overflow
/// a sum). A peer may be buggy, skewed or hostile; nothing it sends may trap, freeze a window
/// or win every later merge.
public enum ReplicaCheck {
    /// Why a remote value was refused (a metric label).
    public enum Rejection: String, Sendable, CaseIterable {
        /// A record the admin API would not have accepted (sizes, limits, scopes, ids).
        case invalidRecord = "invalid_record"
        /// A version (or quota version) further ahead of this node's clock than allowed.
        case clockSkew = "clock_skew"
        /// A counter slot with a count out of bounds, a window far from now, or a bad bucket.
        case invalidCounter = "invalid_counter"
        /// An escrow row with a value out of bounds or a malformed member name.
        case invalidEscrow = "invalid_escrow"
    }

    /// The largest count a peer may report for one window: room for 255 nodes' worth
    /// (`NodeOrdinal`) to add up without overflowing `Int64`.
    public static let maxCount: Int64 = 1 << 55
    /// Longest node name in a version.
    public static let maxNodeNameBytes = 128
    /// Longest key id and displayed start a record may carry.
    public static let maxIDBytes = 64
    public static let maxStartBytes = 64

    /// Why `record` must not be applied at `nowMs`, or `nil` when it may.
    public static func rejection(of record: KeyRecord, nowMs: Int64, maxClockSkewMs: Int64) -> Rejection? {
        let latest = nowMs.addingReportingOverflow(maxClockSkewMs)
        let horizon = latest.overflow ? Int64.max : latest.partialValue
        for version in [record.version] + (record.creditsSetAt.map { [$0] } ?? []) {
            guard version.wallMs >= 0, !version.node.isEmpty, version.node.utf8.count <= maxNodeNameBytes else { return .invalidRecord }
            guard version.wallMs <= horizon else { return .clockSkew }
        }
        guard isVisibleASCII(record.id, maxBytes: maxIDBytes), record.start.utf8.count <= maxStartBytes,
            record.createdAt >= 0, record.retiredSecrets.count <= KeyRules.maxRetiredSecrets,
            record.retiredSecrets.allSatisfy({ $0.start.utf8.count <= maxStartBytes })
        else { return .invalidRecord }
        do {
            try KeyRules.validateContent(of: record)
        } catch {
            return .invalidRecord
        }
        return nil
    }

    /// Whether a peer's counter slot may be merged at `nowMs`: a count within bounds, for a
    /// window of a sane length that is the current one, the one before or the next (a peer's
    /// clock a little ahead), never one that would move this node's window away from now.
    public static func accepts(_ slot: CounterSlot, nowMs: Int64) -> Bool {
        guard (0...maxCount).contains(slot.count) else { return false }
        let windowMs: Int64
        switch slot.bucket {
        case .keyLimit(_, _, let length): windowMs = length
        case .throttle(_, let length): windowMs = length
        }
        guard (1...KeyRules.maxWindowMs).contains(windowMs) else { return false }
        let now = SlidingWindow.windowIndex(nowMs: nowMs, windowMs: windowMs)
        return (now - 1...now + 1).contains(slot.windowIndex)
    }

    /// Whether a peer's escrow row is within bounds: a quota, spent and hand-overs no larger
    /// than a count may be (so sums cannot overflow), members named sanely, at most
    /// `KeyRules.maxHolders` of them.
    public static func accepts(_ row: EscrowRow) -> Bool {
        (0...maxCount).contains(row.quota) && (0...maxCount).contains(row.spent) && row.given.count <= KeyRules.maxHolders
            && row.given.allSatisfy { (0...maxCount).contains($0.value) && !$0.key.isEmpty && $0.key.utf8.count <= KeyRules.maxHolderBytes }
    }

    private static func isVisibleASCII(_ text: String, maxBytes: Int) -> Bool {
        !text.isEmpty && text.utf8.count <= maxBytes && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
