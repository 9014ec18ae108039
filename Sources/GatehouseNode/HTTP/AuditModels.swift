import GatehouseCore

/// One audit entry in JSON (`GET /v1/audit`). Every field is always present; `key_id` is
/// the key of an entry about one key and null otherwise, `key_ids` every key the entry names
/// (a bulk import names up to 1,000 per entry), `before`/`after` null for a field without a value.
struct AuditEntryView: Encodable {
    var entry: AuditEntry

    struct ChangeView: Encodable {
        var field: String
        var before: String?
        var after: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(field, forKey: .field)
            try container.encode(before, forKey: .before)
            try container.encode(after, forKey: .after)
        }

        enum CodingKeys: String, CodingKey { case field, before, after }
    }

    enum CodingKeys: String, CodingKey {
        case id, at, node, actor, source, action, changes
        case requestID = "request_id"
        case keyID = "key_id"
        case keyIDs = "key_ids"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entry.id, forKey: .id)
        try container.encode(JSONTime.format(entry.atMs), forKey: .at)
        try container.encode(entry.node, forKey: .node)
        try container.encode(entry.actor, forKey: .actor)
        try container.encode(entry.source.isEmpty ? nil : entry.source, forKey: .source)
        try container.encode(entry.requestID, forKey: .requestID)
        try container.encode(entry.action.rawValue, forKey: .action)
        try container.encode(entry.keyID.isEmpty ? nil : entry.keyID, forKey: .keyID)
        try container.encode(entry.keyIDs, forKey: .keyIDs)
        try container.encode(entry.changes.map { ChangeView(field: $0.field, before: $0.before, after: $0.after) }, forKey: .changes)
    }
}

/// A page of the audit trail, newest first, and the cursor of the next page (null at the end).
struct AuditListView: Encodable {
    var entries: [AuditEntryView]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case entries
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entries, forKey: .entries)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
