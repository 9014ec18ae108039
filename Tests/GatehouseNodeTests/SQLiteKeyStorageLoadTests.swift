import Foundation
import GRDB
import GatehouseCore
@testable import GatehouseNode
import Testing

/// `SQLiteKeyStorage.loadRecords` / `forEachRecord` read rows through a cursor in batches and
/// decode each batch on several threads; what they return must not depend on that.
@Suite("SQLite key storage: loading at start", .timeLimit(.minutes(5)))
struct SQLiteKeyStorageLoadTests {
    static let hasher = LookupHasher(pepper: (0..<32).map { UInt8($0) &* 11 &+ 5 })

    /// Records of several shapes: meta, credits, expiry, revoked, rotated (retired secrets).
    static func records(_ count: Int) throws -> [KeyRecord] {
        var random = SystemRandomNumberGenerator()
        let t0: Int64 = 1_800_000_000_000
        return try (0..<count).map { i in
            let version = HybridTimestamp(wallMs: t0 + Int64(i), logical: 0, node: "n1")
            var draft = KeyDraft(name: "key \(i)", owner: "acct_\(i % 7)", scopes: i % 3 == 0 ? ["read", "orders:*"] : ["read"])
            if i % 5 == 0 { draft.meta = ["plan": "pro", "n": "\(i)"] }
            if i % 11 == 0 { draft.credits = Int64(i) }
            if i % 13 == 0 { draft.expiresAt = t0 + 86_400_000 }
            var record = try KeyLifecycle.create(
                draft, defaultLimits: [.defaultHourly], hasher: hasher, nowMs: t0, version: version, using: &random
            ).record
            if i % 19 == 0 {
                record = try KeyLifecycle.rotate(
                    record, graceMs: 60_000, hasher: hasher, nowMs: t0 + 1, version: version, using: &random
                ).record
            }
            if i % 17 == 0 { record = KeyLifecycle.revoke(record, nowMs: t0 + 2, version: version) }
            if i % 4 == 0 { record.lastUsedAt = t0 + 5_000 }
            return record
        }
    }

    @Test func loadsEveryRecordInTableOrderAcrossBatchesWithUsageFoldedIn() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 5000 rows in batches of 2100: two batches decoded on two threads (on a machine
        // with two cores or more), and a short last one on one.
        var expected = try Self.records(5_000)
        do {
            let storage = try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100)
            for record in expected { try storage.save(record) }
            // Usage written later: newer than the record's own last_used_at for some keys,
            // older for others (the later of the two wins).
            var usage: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)] = []
            for index in stride(from: 0, to: expected.count, by: 6) {
                var used = expected[index]
                used.lastUsedAt = index % 12 == 0 ? 1_800_000_000_000 + 9_000 : 1_800_000_000_000 + 1_000
                usage.append((used, nil))
                if used.lastUsedAt! > (expected[index].lastUsedAt ?? Int64.min) { expected[index].lastUsedAt = used.lastUsedAt }
            }
            try storage.saveUsage(usage)
        }
        let loaded = try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100).loadRecords()
        #expect(loaded.count == expected.count)
        #expect(Self.differences(loaded, expected) == [])
        // One batch holding everything gives the same.
        #expect(Self.differences(try SQLiteKeyStorage(directory: directory, loadBatchSize: 10_000).loadRecords(), expected) == [])
        // And so does handing them over one by one, as a start does.
        var handed: [KeyRecord] = []
        try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100).forEachRecord { handed.append($0) }
        #expect(Self.differences(handed, expected) == [])
    }

    /// Positions where two record lists differ (a short list instead of two thousand records).
    static func differences(_ a: [KeyRecord], _ b: [KeyRecord]) -> [Int] {
        (0..<max(a.count, b.count)).filter { $0 >= a.count || $0 >= b.count || a[$0] != b[$0] }.prefix(5).map { $0 }
    }

    @Test func aRowThatDoesNotDecodeFailsTheLoad() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let records = try Self.records(3_000)
        do {
            let storage = try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100)
            for record in records { try storage.save(record) }
        }
        // Damage one row in the second half of the first batch (decoded by the second thread).
        let database = try DatabaseQueue(path: "\(directory)/\(SQLiteKeyStorage.fileName)")
        try database.write { db in
            try db.execute(sql: "UPDATE key_record SET data = ? WHERE id = ?", arguments: [Data([0x01, 0x02]), records[1_500].id])
        }
        try database.close()
        #expect(throws: (any Error).self) {
            try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100).loadRecords()
        }
        var handed = 0
        #expect(throws: (any Error).self) {
            try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100).forEachRecord { _ in handed += 1 }
        }
        // Nothing of the batch holding the damaged row was handed over.
        #expect(handed == 0)
    }

    /// A data directory of a release that stored records as JSON (schema up to
    /// `v3-credit-period`, rows written as that release wrote them) is converted at the first
    /// start: every record comes back equal, now stored in the binary codec.
    @Test func recordsStoredAsJSONByAnEarlierReleaseAreConvertedAtTheFirstStart() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var expected = try Self.records(5_000)
        expected[3].secretForm = .foreign
        do {
            let database = try DatabaseQueue(path: "\(directory)/\(SQLiteKeyStorage.fileName)")
            try SQLiteKeyStorage.migrator.migrate(database, upTo: "v3-credit-period")
            let encoder = JSONEncoder()
            try database.write { db in
                for record in expected {
                    try db.execute(
                        sql: "INSERT INTO key_record (id, owner, version, record) VALUES (?, ?, ?, ?)",
                        arguments: [record.id, record.owner, record.version.description, String(decoding: try encoder.encode(record), as: UTF8.self)])
                }
            }
            try database.close()
        }
        let loaded = try SQLiteKeyStorage(directory: directory, loadBatchSize: 2_100).loadRecords()
        #expect(Self.differences(loaded, expected) == [])
        let database = try DatabaseQueue(path: "\(directory)/\(SQLiteKeyStorage.fileName)")
        let leftAsJSON = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM key_record WHERE data IS NULL OR record != ''") }
        #expect(leftAsJSON == 0)
        try database.close()
        // A second start has nothing left to convert and loads the same.
        #expect(Self.differences(try SQLiteKeyStorage(directory: directory).loadRecords(), expected) == [])
    }

    /// What an acknowledgement promises: every commit syncs SQLite's WAL to disk.
    @Test func everyCommitIsSyncedToDisk() throws {
        let storage = try SQLiteKeyStorage(directory: TemporaryDirectory.make())
        #expect(try storage.writerSynchronousMode() == 2)
    }
}
