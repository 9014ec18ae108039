/// One admin write, as the audit trail keeps it: who did what to which key, from where,
/// and what changed. Never a secret: values are the fields an admin sees in a key's view.
///
/// Entries are append-only and identified by a unique `id`, so replicas merge by union
/// (a set of entries; the same entry arriving twice is one entry).
public struct AuditEntry: Hashable, Sendable {
    /// `aud_` and 22 base62 characters: the time, then 83 random bits (`makeID`).
    public var id: String
    /// When the write was made, Unix milliseconds on the node that made it.
    public var atMs: Int64
    /// The node that made the write.
    public var node: String
    /// The admin token's name (`admin` for the legacy admin token).
    public var actor: String
    /// The client's address as the node saw it (after `trusted_proxies`); empty when unknown.
    public var source: String
    /// The request's `X-Request-Id`, given or generated.
    public var requestID: String
    public var action: AuditAction
    /// The keys written: one for a write to one key, up to `AuditRules.maxKeysPerEntry` for
    /// a bulk import (one entry per chunk of an import request: an entry per imported key
    /// cost more than the import itself, on every node), none for an action on no key.
    public var keyIDs: [String]
    /// The fields the write changed, before → after (for a bulk import, how many keys).
    public var changes: [AuditChange]

    /// The key written when the entry is about exactly one key; empty otherwise.
    public var keyID: String { keyIDs.count == 1 ? keyIDs[0] : "" }

    public init(
        id: String, atMs: Int64, node: String, actor: String, source: String, requestID: String, action: AuditAction, keyIDs: [String],
        changes: [AuditChange]
    ) {
        self.id = id
        self.atMs = atMs
        self.node = node
        self.actor = actor
        self.source = source
        self.requestID = requestID
        self.action = action
        self.keyIDs = keyIDs
        self.changes = changes
    }

    /// An entry about one key (`keyID` empty: about no key).
    public init(
        id: String, atMs: Int64, node: String, actor: String, source: String, requestID: String, action: AuditAction, keyID: String,
        changes: [AuditChange]
    ) {
        self.init(
            id: id, atMs: atMs, node: node, actor: actor, source: source, requestID: requestID, action: action,
            keyIDs: keyID.isEmpty ? [] : [keyID], changes: changes)
    }

    public static let idPrefix = "aud_"
    static let idRandomCharacters = 22

    /// Base62 digits of the entry's time at the head of its id.
    static let idTimeCharacters = 8

    /// A new entry id: its time (`atMs`, 8 base62 digits, which sort as the times do) then 14
    /// random characters (83 bits). Ids made one after another sort one after another, so a
    /// store indexed by id appends instead of writing a random page per entry (an import
    /// writes ten thousand entries at once).
    public static func makeID(atMs: Int64, using generator: inout some RandomNumberGenerator) -> String {
        let time = Base62.fixedWidth(UInt64(clamping: max(0, atMs)), width: idTimeCharacters)
        let random = Base62.random(count: idRandomCharacters - idTimeCharacters, using: &generator)
        return idPrefix + String(decoding: time + random, as: UTF8.self)
    }

    /// Whether `id` has the shape `makeID` gives.
    public static func isWellFormedID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        let prefix = Array(idPrefix.utf8)
        guard bytes.count == prefix.count + idRandomCharacters, bytes.starts(with: prefix) else { return false }
        return bytes.dropFirst(prefix.count).allSatisfy { Base62.value(of: $0) != nil }
    }
}

/// One field an admin write changed. `nil` means the field had no value (before a create,
/// or a cleared optional field).
public struct AuditChange: Hashable, Sendable {
    public var field: String
    public var before: String?
    public var after: String?

    public init(field: String, before: String?, after: String?) {
        self.field = field
        self.before = before
        self.after = after
    }
}

/// What an audited write did. A string underneath, so an action a newer node writes still
/// replicates to an older one (validated by `AuditRules`, never interpreted).
public struct AuditAction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static let keyCreate = AuditAction(rawValue: "key.create")
    public static let keyUpdate = AuditAction(rawValue: "key.update")
    public static let keyRevoke = AuditAction(rawValue: "key.revoke")
    public static let keyRotate = AuditAction(rawValue: "key.rotate")
    public static let keyImport = AuditAction(rawValue: "key.import")
}
