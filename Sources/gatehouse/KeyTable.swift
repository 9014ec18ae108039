import Foundation

/// Readable output of key records for `gatehouse keys`: no Swift literals, the same field
/// order every run, `-` for nothing, `yes`/`no` for flags.
enum KeyTable {
    static let columns = ["id", "start", "name", "owner", "scopes", "limits", "credits", "state", "expires_at"]

    static func row(_ key: KeyDocument) -> [String] {
        [
            key.id, key.start + "…", key.name, key.owner, list(key.scopes), limits(key.limits),
            key.credits.map(String.init) ?? "-", state(key), key.expiresAt.map(time) ?? "-",
        ]
    }

    /// One key, field by field, as `(field, value)` lines in a fixed order.
    static func fields(_ key: KeyDocument) -> [(String, String)] {
        var fields: [(String, String)] = [("id", key.id)]
        if let secret = key.key { fields.append(("key", secret)) }
        fields += [
            ("start", key.start + "…"), ("name", key.name.isEmpty ? "-" : key.name), ("owner", key.owner.isEmpty ? "-" : key.owner),
            ("scopes", list(key.scopes)), ("limits", limits(key.limits)),
            ("credits", key.credits.map(String.init) ?? "unlimited"),
            ("refill", key.refill.map { "\($0.amount) \($0.interval)" } ?? "-"),
            ("meta", meta(key.meta)), ("enabled", yesNo(key.enabled)), ("state", state(key)),
            ("created_at", time(key.createdAt)), ("expires_at", key.expiresAt.map(time) ?? "never"),
            ("revoked_at", key.revokedAt.map(time) ?? "-"), ("last_used_at", key.lastUsedAt.map(time) ?? "never"),
            ("retired_secrets", key.retiredSecrets.isEmpty ? "-" : key.retiredSecrets.map { "\($0.start)… until \(time($0.validUntil))" }.joined(separator: ", ")),
            ("version", key.version),
        ]
        return fields
    }

    /// Limits as the list shows them: `minute=60/60s`, `burst=5/250ms`, strict ones marked.
    static func limits(_ limits: [KeyDocument.Limit]) -> String {
        guard !limits.isEmpty else { return "-" }
        return limits.map { limit in
            "\(limit.name)=\(limit.limit)/\(duration(ms: limit.windowMs))" + (limit.strict == true ? " strict" : "")
        }.joined(separator: ",")
    }

    /// Whole seconds as `60s`, anything else in milliseconds.
    static func duration(ms: Int64) -> String {
        ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    /// `k=v` pairs sorted by key, or `-`.
    static func meta(_ meta: [String: String]) -> String {
        guard !meta.isEmpty else { return "-" }
        return meta.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }

    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }

    /// The API's `2027-01-01T00:00:00.000Z` as `2027-01-01 00:00:00 UTC` (milliseconds kept
    /// only when there are some).
    static func time(_ text: String) -> String {
        guard text.count == 24, text.hasSuffix("Z"), text.dropFirst(10).first == "T" else { return text }
        let date = text.prefix(10)
        var clock = text.dropFirst(11).dropLast()
        if clock.hasSuffix(".000") { clock = clock.dropLast(4) }
        return "\(date) \(clock) UTC"
    }

    static func state(_ key: KeyDocument) -> String {
        if key.revokedAt != nil { return "revoked" }
        return key.enabled ? "active" : "disabled"
    }

    private static func list(_ items: [String]) -> String {
        items.isEmpty ? "-" : items.joined(separator: ",")
    }

    /// A value of an untyped answer (cluster views) as text; `-` for null or nothing.
    static func text(_ value: Any?) -> String {
        switch value {
        case let string as String: string
        case let number as Int: String(number)
        case let number as Int64: String(number)
        case let flag as Bool: yesNo(flag)
        case nil, is NSNull: "-"
        default: value.map { "\($0)" } ?? "-"
        }
    }

    static func render(_ rows: [[String]], header: [String] = columns) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `(name, value)` lines with the names in one column.
    static func renderFields(_ fields: [(String, String)], width: Int = 16) -> String {
        fields.map { "\($0.0.padding(toLength: width, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n")
    }

    static func print(keys: [KeyDocument]) {
        Swift.print(render(keys.map(row)))
    }

    static func print(key: KeyDocument) {
        Swift.print(renderFields(fields(key)))
    }
}
