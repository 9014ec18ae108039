/// The bounds of an audit entry, for entries written here and, strictly, for entries a peer
/// sends (checked like user input: a peer's bytes never crash, flood or forge a node's trail
/// beyond these bounds).
public enum AuditRules {
    public static let maxActorBytes = 64
    public static let maxSourceBytes = 64
    public static let maxRequestIDBytes = 128
    public static let maxActionBytes = 32
    public static let maxKeyIDBytes = 64
    public static let maxNodeBytes = 128
    /// Keys one entry names (a bulk import writes an entry per this many keys): with
    /// `maxKeyIDBytes` each, 64 KiB of ids, so `ReplicationMachine.auditEntriesPerMessage`
    /// entries still fit a data-stream frame.
    public static let maxKeysPerEntry = 1_000
    public static let maxChanges = 16
    public static let maxFieldBytes = 32
    /// A value longer than this is cut (at a character boundary) and marked, locally; a
    /// peer's longer value is refused.
    public static let maxValueBytes = 2048
    /// All values of one entry together: so `ReplicationMachine.auditEntriesPerMessage`
    /// entries fit one data-stream frame. A key's fields, each clipped, stay below it.
    public static let maxValueBytesPerEntry = 14 * 1024
    static let clipMarker = " …(cut)"

    /// Why a peer's entry was refused.
    public enum Rejection: String, Sendable, Hashable, CaseIterable {
        case malformed
        /// Older than the retention: it would be pruned at once (and sent back and forth).
        case expired
        /// Dated further ahead of this node's clock than the allowed skew.
        case future
    }

    /// `value` cut to `maxValueBytes` bytes, marked when cut.
    public static func clipped(_ value: String) -> String {
        guard value.utf8.count > maxValueBytes else { return value }
        var kept = ""
        var bytes = 0
        let budget = maxValueBytes - clipMarker.utf8.count
        for character in value {
            let size = character.utf8.count
            guard bytes + size <= budget else { break }
            kept.append(character)
            bytes += size
        }
        return kept + clipMarker
    }

    /// Why `entry` may not be kept, or nil: shape and sizes, and a time within
    /// [now − retention, now + skew].
    public static func rejection(of entry: AuditEntry, nowMs: Int64, retentionMs: Int64, maxClockSkewMs: Int64) -> Rejection? {
        guard isWellFormed(entry) else { return .malformed }
        if entry.atMs < nowMs &- retentionMs { return .expired }
        if entry.atMs > nowMs &+ maxClockSkewMs { return .future }
        return nil
    }

    public static func isWellFormed(_ entry: AuditEntry) -> Bool {
        AuditEntry.isWellFormedID(entry.id)
            && isName(entry.actor, maxBytes: maxActorBytes)
            && isVisibleASCII(entry.source, maxBytes: maxSourceBytes, allowEmpty: true)
            && isVisibleASCII(entry.requestID, maxBytes: maxRequestIDBytes, allowEmpty: true)
            && isName(entry.action.rawValue, maxBytes: maxActionBytes)
            && entry.keyIDs.count <= maxKeysPerEntry
            && entry.keyIDs.allSatisfy { isVisibleASCII($0, maxBytes: maxKeyIDBytes, allowEmpty: false) }
            && isVisibleASCII(entry.node, maxBytes: maxNodeBytes, allowEmpty: false)
            && entry.changes.count <= maxChanges
            && entry.changes.reduce(0, { $0 + ($1.before?.utf8.count ?? 0) + ($1.after?.utf8.count ?? 0) }) <= maxValueBytesPerEntry
            && entry.changes.allSatisfy { change in
                isName(change.field, maxBytes: maxFieldBytes)
                    && (change.before?.utf8.count ?? 0) <= maxValueBytes
                    && (change.after?.utf8.count ?? 0) <= maxValueBytes
            }
    }

    /// Lower-case letters, digits, `.`, `_`, `-` and `:`, starting with a letter or digit:
    /// token names, actions and field names.
    public static func isName(_ text: String, maxBytes: Int) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, bytes.count <= maxBytes, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ":") }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func isVisibleASCII(_ text: String, maxBytes: Int, allowEmpty: Bool) -> Bool {
        let bytes = text.utf8
        guard bytes.count <= maxBytes, allowEmpty || !bytes.isEmpty else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
