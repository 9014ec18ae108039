import Foundation
import GRDB
import GatehouseCore

/// Key records in SQLite (WAL) under the node's data directory, through GRDB.
///
/// Records are stored whole as JSON next to the columns used to find them; usage that
/// changes on the hot path (`last_used_at`, credit usage) lives in its own tables so
/// writing it never rewrites a record.
public final class SQLiteKeyStorage: KeyStorage {
    private let database: DatabasePool
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    public static let fileName = "keys.sqlite"

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var configuration = Configuration()
        configuration.label = "gatehouse.keys"
        database = try DatabasePool(path: "\(directory)/\(Self.fileName)", configuration: configuration)
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE key_record (
                    id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    version TEXT NOT NULL,
                    record TEXT NOT NULL
                );
                CREATE INDEX key_record_owner ON key_record(owner, id);
                CREATE TABLE key_last_used (
                    key_id TEXT PRIMARY KEY NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE TABLE key_credit_usage (
                    key_id TEXT PRIMARY KEY NOT NULL,
                    epoch TEXT NOT NULL,
                    used INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    public func loadRecords() throws -> [KeyRecord] {
        try database.read { db in
            var lastUsed: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key_id, at FROM key_last_used") {
                lastUsed[row["key_id"]] = row["at"]
            }
            return try Row.fetchAll(db, sql: "SELECT record FROM key_record").map { row in
                let text: String = row["record"]
                var record = try decoder.decode(KeyRecord.self, from: Data(text.utf8))
                if let used = lastUsed[record.id], used > (record.lastUsedAt ?? Int64.min) {
                    record.lastUsedAt = used
                }
                return record
            }
        }
    }

    public func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage] {
        try database.read { db in
            var usage: [String: Gatekeeper.CreditUsage] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key_id, epoch, used FROM key_credit_usage") {
                let epochText: String = row["epoch"]
                guard let epoch = HybridTimestamp(parsing: epochText) else { continue }
                usage[row["key_id"]] = Gatekeeper.CreditUsage(epoch: epoch, used: row["used"])
            }
            return usage
        }
    }

    public func save(_ record: KeyRecord) throws {
        let json = String(decoding: try encoder.encode(record), as: UTF8.self)
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO key_record (id, owner, version, record) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, version = excluded.version, record = excluded.record
                    """,
                arguments: [record.id, record.owner, record.version.description, json])
        }
    }

    public func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws {
        guard !changes.isEmpty else { return }
        try database.write { db in
            for change in changes {
                if let at = change.record.lastUsedAt {
                    try db.execute(
                        sql: "INSERT INTO key_last_used (key_id, at) VALUES (?, ?) ON CONFLICT(key_id) DO UPDATE SET at = MAX(at, excluded.at)",
                        arguments: [change.record.id, at])
                }
                if let usage = change.creditUsage {
                    try db.execute(
                        sql: "INSERT INTO key_credit_usage (key_id, epoch, used) VALUES (?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET epoch = excluded.epoch, used = excluded.used",
                        arguments: [change.record.id, usage.epoch.description, usage.used])
                }
            }
        }
    }
}
