/// The fields of a key record an audit entry reports, rendered as text, and the difference
/// between two versions of a record.
///
/// Only what a key's admin view shows is rendered: the lookup hash, retired secrets' hashes
/// and anything else derived from a secret never are. A rotation shows as a new
/// `secret_generation` and `start` (the public first characters of the key).
public enum AuditChanges {
    /// The changes from `before` (nil: the key did not exist) to `after`, in field order.
    public static func between(_ before: KeyRecord?, _ after: KeyRecord) -> [AuditChange] {
        let old = before.map(fields) ?? []
        let new = fields(of: after)
        var changes: [AuditChange] = []
        for (index, field) in new.enumerated() {
            let previous = before == nil ? nil : old[index].value
            guard previous != field.value else { continue }
            changes.append(AuditChange(field: field.name, before: previous, after: field.value))
        }
        return changes
    }

    /// The record's audited fields, always in the same order (nil: no value).
    static func fields(of record: KeyRecord) -> [(name: String, value: String?)] {
        let meta: String? = record.meta.isEmpty ? nil : record.meta.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let refill: String? = record.refill.map { "\($0.amount)/\($0.interval.rawValue)" }
        let graceUntil: Int64? = record.retiredSecrets.map(\.validUntil).max()
        let fields: [(String, String?)] = [
            ("name", record.name.isEmpty ? nil : record.name),
            ("owner", record.owner),
            ("start", record.start),
            ("scopes", record.scopes.joined(separator: ",")),
            ("enabled", record.enabled ? "true" : "false"),
            ("expires_at", record.expiresAt.map { String($0) }),
            ("limits", record.limits.map(render).joined(separator: ",")),
            ("credits", record.credits.map { String($0) }),
            ("refill", refill),
            ("meta", meta),
            ("revoked_at", record.revokedAt.map { String($0) }),
            ("secret_generation", String(record.secretGeneration)),
            ("grace_until", graceUntil.map { String($0) }),
        ]
        return fields.map { (name: $0.0, value: $0.1.map(AuditRules.clipped)) }
    }

    private static func render(_ limit: RateLimit) -> String {
        "\(limit.name)=\(limit.limit)/\(limit.windowMs)ms" + (limit.strict ? " strict" : "")
    }
}
