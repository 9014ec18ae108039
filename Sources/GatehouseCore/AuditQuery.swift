/// A search of the audit trail: every filter optional, newest first, one page at a time.
public struct AuditQuery: Hashable, Sendable {
    public var keyID: String?
    /// When the key of `keyID` was created, if this node holds it: a bulk import's entry
    /// (naming up to 1,000 keys) is dated exactly then, so a store finds it among the few
    /// entries of that millisecond instead of indexing every imported key.
    public var keyCreatedAtMs: Int64?
    public var actor: String?
    /// Entries at or after this time (Unix ms).
    public var sinceMs: Int64?
    /// Entries before this time (Unix ms).
    public var untilMs: Int64?
    /// Entries strictly older than this position (the last entry of the previous page).
    public var before: AuditCursor?
    public var limit: Int

    public init(keyID: String? = nil, actor: String? = nil, sinceMs: Int64? = nil, untilMs: Int64? = nil, before: AuditCursor? = nil, limit: Int = 100) {
        self.keyID = keyID
        self.actor = actor
        self.sinceMs = sinceMs
        self.untilMs = untilMs
        self.before = before
        self.limit = limit
    }

    /// Whether `entry` passes the filters (the cursor included).
    public func matches(_ entry: AuditEntry) -> Bool {
        if let keyID, !entry.keyIDs.contains(keyID) { return false }
        if let actor, entry.actor != actor { return false }
        if let sinceMs, entry.atMs < sinceMs { return false }
        if let untilMs, entry.atMs >= untilMs { return false }
        if let before, !(AuditCursor(entry) < before) { return false }
        return true
    }
}

/// A position in the trail's order (time, then id), newest first: `"<ms>-<id>"`.
public struct AuditCursor: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var atMs: Int64
    public var id: String

    public init(atMs: Int64, id: String) {
        self.atMs = atMs
        self.id = id
    }

    public init(_ entry: AuditEntry) {
        self.init(atMs: entry.atMs, id: entry.id)
    }

    /// `"<ms>-<id>"`: 1 to 18 digits (no sign), a dash, an entry id.
    public init?(parsing text: String) {
        guard let dash = text.firstIndex(of: "-") else { return nil }
        let digits = text[..<dash]
        guard (1...18).contains(digits.utf8.count), digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let atMs = Int64(digits)
        else { return nil }
        let id = String(text[text.index(after: dash)...])
        guard AuditEntry.isWellFormedID(id) else { return nil }
        self.init(atMs: atMs, id: id)
    }

    public var description: String { "\(atMs)-\(id)" }

    public static func < (lhs: AuditCursor, rhs: AuditCursor) -> Bool {
        (lhs.atMs, lhs.id) < (rhs.atMs, rhs.id)
    }
}
