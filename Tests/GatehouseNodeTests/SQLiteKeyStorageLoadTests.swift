import Foundation
import GRDB
import Logging
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
            // Saved one by one, in order: record i is row i + 1 of the log.
            try db.execute(sql: "UPDATE key_log SET data = ? WHERE seq = ?", arguments: [Data([0x01, 0x02]), 1_501])
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
        let oldTables = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE name = 'key_record'") }
        #expect(oldTables == 0)
        let logRows = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM key_log WHERE length(data) > 0") }
        #expect(logRows == expected.count)
        try database.close()
        // A second start has nothing left to convert and loads the same.
        #expect(Self.differences(try SQLiteKeyStorage(directory: directory).loadRecords(), expected) == [])
    }

    /// A data directory of the build that indexed every imported key in `audit_key`
    /// (migration "v7-audit-keys", since removed) loses that table at its next start: nothing
    /// reads or prunes it any more, so its rows would stay forever. Its audit entries stay.
    @Test func theAuditKeyIndexOfAnEarlierBuildIsDroppedAtTheNextStart() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/\(SQLiteKeyStorage.fileName)"
        do {
            let database = try DatabaseQueue(path: path)
            try SQLiteKeyStorage.migrator.migrate(database, upTo: "v6-audit")
            try database.write { db in
                try db.execute(sql: """
                    CREATE TABLE audit_key (key_id TEXT NOT NULL, at INTEGER NOT NULL, entry_id TEXT NOT NULL,
                        PRIMARY KEY (key_id, at, entry_id)) WITHOUT ROWID;
                    INSERT INTO audit_key VALUES ('key_a', 1, 'entry_1');
                    INSERT INTO audit_entry (id, at, actor, key_id, fingerprint, data) VALUES ('entry_1', 1, 'admin', '', 0, x'00');
                    INSERT INTO grdb_migrations (identifier) VALUES ('v7-audit-keys');
                    """)
            }
            try database.close()
        }
        _ = try SQLiteKeyStorage(directory: directory)
        let database = try DatabaseQueue(path: path)
        defer { try? database.close() }
        let (tables, entries) = try database.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_key'"),
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_entry"))
        }
        #expect(tables == 0)
        #expect(entries == 1)
    }

    /// The log keeps every version written; a load merges them as replicas do, so the one
    /// that takes precedence wins whatever order they were stored in (a revoke stored before
    /// a later edit of the same key still holds). A start that finds more superseded rows
    /// than keys rewrites the log to one row per key, keeping what it loaded.
    @Test(.timeLimit(.minutes(2)))
    func theLogMergesEveryVersionAndAStartCompactsIt() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try Self.records(2_000)
        var expected: [String: KeyRecord] = [:]
        do {
            let storage = try SQLiteKeyStorage(directory: directory)
            try storage.save(keys)
            // Six more versions of every key, saved newest first: the first of them wins.
            var versions: [KeyRecord] = []
            for (index, record) in keys.enumerated() {
                for step in (1...6).reversed() {
                    var next = record
                    next.name = "v\(step)"
                    next.version = HybridTimestamp(wallMs: record.version.wallMs + Int64(step), logical: 0, node: "n2")
                    versions.append(next)
                    if step == 6 { expected[record.id] = next }
                }
                // Key 1 is revoked, in a row stored before all its edits (its version is older than five of them).
                if index == 1 {
                    let revoked = KeyLifecycle.revoke(record, nowMs: 1, version: HybridTimestamp(wallMs: record.version.wallMs + 1, logical: 1, node: "n3"))
                    versions.insert(revoked, at: 0)
                    expected[record.id] = revoked
                }
            }
            try storage.save(versions)
            #expect(try storage.recordCount() == 2_000 * 7 + 1)
        }
        func loaded() throws -> [String: KeyRecord] {
            Dictionary(uniqueKeysWithValues: try KeyService(
                nodeID: "n1", hasher: Self.hasher, settings: .init(), defaultLimits: [.defaultHourly], defaultPrefix: "gk",
                storage: SQLiteKeyStorage(directory: directory), now: { 1_800_000_000_000 }, logger: Logger(label: "test")
            ).list(owner: nil, after: nil, limit: 10_000).map { ($0.record.id, $0.record) })
        }
        let first = try loaded()
        #expect(first.count == keys.count)
        #expect(first.filter { expected[$0.key] != $0.value }.count == 0)
        #expect(first[keys[1].id]?.isRevoked == true)
        // The start found 12,001 superseded rows for 2,000 keys and rewrote the log.
        #expect(try SQLiteKeyStorage(directory: directory).recordCount() == keys.count)
        let second = try loaded()
        #expect(second == first)
    }

    @Test func compactingIsWorthItOnlyForManySupersededRows() {
        #expect(!KeyService.worthCompacting(storedRows: 1_000_000, keys: 1_000_000))
        #expect(!KeyService.worthCompacting(storedRows: 9_000, keys: 10))
        #expect(!KeyService.worthCompacting(storedRows: 1_900_000, keys: 1_000_000))
        #expect(KeyService.worthCompacting(storedRows: 2_000_001, keys: 1_000_000))
        #expect(KeyService.worthCompacting(storedRows: 12_001, keys: 2_000))
    }

    /// A data directory made by the release before the record log (643c793, its `gatehouse
    /// serve` driven by `Tests/Fixtures/make-data-dir-fixture.py`) opens in this one: every key
    /// as that release answered for it, every secret verifying as it did there (a rotated-out
    /// one within its grace, a revoked and a disabled key refused).
    @Test func aDataDirectoryMadeByAnEarlierReleaseLoads() async throws {
        struct Expected: Decodable {
            struct Key: Decodable {
                var id: String
                var secrets: [String: String]
                var record: Record
            }
            struct Record: Decodable {
                var name: String
                var owner: String
                var scopes: [String]
                var enabled: Bool
                var meta: [String: String]
                var revoked_at: String?
                var expires_at: String?
                var credits: Int64?
                var limits: [RateLimit]
                var retired_secrets: [[String: String]]?
            }
            var made_at_ms: Int64
            var keys: [Key]
        }
        let fixture = Subprocess.packageRoot.appendingPathComponent("Tests/Fixtures/data-dir-643c793")
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.appendingPathComponent("data").path) {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent("data/\(name)").path, toPath: "\(directory)/\(name)")
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture.appendingPathComponent("expected.json")))
        struct StoredSecrets: Decodable { var pepper: String }
        let pepper = try JSONDecoder().decode(StoredSecrets.self, from: Data(contentsOf: URL(fileURLWithPath: "\(directory)/secrets.json"))).pepper
        let nowMs = expected.made_at_ms + 60_000
        let keys = try KeyService(
            nodeID: "n1", hasher: LookupHasher(pepper: Array(pepper.utf8)), settings: .init(), defaultLimits: [.defaultHourly],
            defaultPrefix: "gk", storage: SQLiteKeyStorage(directory: directory), now: { nowMs }, logger: Logger(label: "test"))
        #expect(expected.keys.count == 9)
        for key in expected.keys {
            let record = try #require(keys.key(id: key.id)?.record)
            #expect(record.name == key.record.name)
            #expect(record.owner == key.record.owner)
            #expect(record.scopes == key.record.scopes)
            #expect(record.enabled == key.record.enabled)
            #expect(record.meta == key.record.meta)
            #expect((record.revokedAt != nil) == (key.record.revoked_at != nil))
            #expect(record.expiresAt == key.record.expires_at.flatMap(Self.unixMs))
            #expect(record.credits == key.record.credits)
            #expect(record.limits == key.record.limits)
            #expect(record.retiredSecrets.count == (key.record.retired_secrets?.count ?? 0))
            for (secret, code) in key.secrets {
                #expect(keys.verify(key: secret, VerifyRequest()).code.rawValue == code, "key \(key.record.name)")
            }
        }
        // Written by this release from now on: a new key next to the old ones, after a restart.
        let (made, secret) = try await keys.create(KeyDraft(name: "new", owner: "acct_5"))
        let reopened = try KeyService(
            nodeID: "n1", hasher: LookupHasher(pepper: Array(pepper.utf8)), settings: .init(), defaultLimits: [.defaultHourly],
            defaultPrefix: "gk", storage: SQLiteKeyStorage(directory: directory), now: { nowMs }, logger: Logger(label: "test"))
        #expect(reopened.key(id: made.id)?.record.name == "new")
        #expect(reopened.verify(key: secret, VerifyRequest()).code == .valid)
        #expect(reopened.list(owner: nil, after: nil, limit: 100).count == expected.keys.count + 1)
    }

    /// Milliseconds of an RFC 3339 time as the API writes it (`2028-01-07T05:13:40.000Z`).
    static func unixMs(_ text: String) -> Int64? {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// What an acknowledgement promises: every commit syncs SQLite's WAL to disk.
    @Test func everyCommitIsSyncedToDisk() throws {
        let storage = try SQLiteKeyStorage(directory: TemporaryDirectory.make())
        #expect(try storage.writerSynchronousMode() == 2)
    }
}
