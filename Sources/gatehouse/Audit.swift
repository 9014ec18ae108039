import ArgumentParser
import Foundation

/// `gatehouse audit`: the admin writes a node's audit trail holds, newest first.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit trail: who changed which key, when, from where, and what changed.")
    @OptionGroup var connection: AdminConnection
    @Option(help: "Only entries about this key id.")
    var key: String?
    @Option(help: "Only entries made with this admin token (its name; `admin` for the admin token).")
    var actor: String?
    @Option(help: "Only entries at or after this time, RFC 3339 (e.g. 2026-01-31T00:00:00Z).")
    var since: String?
    @Option(help: "Only entries before this time, RFC 3339.")
    var until: String?
    @Option(help: "Page size (1-1000).")
    var limit = 100
    @Option(help: "Continue after this entry (next_cursor of the previous page).")
    var cursor: String?

    func run() async throws {
        var query = ["limit=\(limit)"]
        for (name, value) in [("key_id", key), ("actor", actor), ("since", since), ("until", until), ("cursor", cursor)] {
            guard let value else { continue }
            query.append("\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)")
        }
        let page = try await connection.call("GET", "/v1/audit?" + query.joined(separator: "&"), as: AuditDocument.Page.self)
        guard !connection.json else { return }
        print(AuditTable.render(page.entries))
        if let next = page.nextCursor { print("\nmore: --cursor \(next)") }
    }
}

/// An audit entry as `GET /v1/audit` answers it.
struct AuditDocument: Decodable {
    struct Change: Decodable {
        var field: String
        var before: String?
        var after: String?
    }

    struct Page: Decodable {
        var entries: [AuditDocument]
        var nextCursor: String?
    }

    var id: String
    var at: String
    var node: String
    var actor: String
    var source: String?
    var requestId: String
    var action: String
    var keyId: String?
    var keyIds: [String]
    var changes: [Change]

    /// The key, or how many keys a bulk import entry names.
    var keyColumn: String {
        if let keyId { return keyId }
        return keyIds.isEmpty ? "-" : "\(keyIds.count) keys"
    }
}

/// The audit trail as a table, one line per entry, changes as `field: before → after`.
enum AuditTable {
    static let columns = ["at", "actor", "action", "key", "source", "request", "changes"]

    static func row(_ entry: AuditDocument) -> [String] {
        [
            KeyTable.time(entry.at), entry.actor, entry.action, entry.keyColumn, entry.source ?? "-", entry.requestId,
            changes(entry.changes),
        ]
    }

    static func changes(_ changes: [AuditDocument.Change]) -> String {
        guard !changes.isEmpty else { return "-" }
        return changes.map { "\($0.field): \($0.before ?? "-") → \($0.after ?? "-")" }.joined(separator: "; ")
    }

    static func render(_ entries: [AuditDocument]) -> String {
        KeyTable.render(entries.map(row), header: columns)
    }
}
