import Foundation
import GRDB
import GatehouseCore
import GatehouseWire
import NIOCore

/// Key records in SQLite (WAL) under the node's data directory, through GRDB.
///
/// Records are stored whole in the cluster's binary record codec (`KeyRecordCodec`) in an
/// append-only log (`key_log`): a write appends the record's new version, and a load applies
/// every row in order, the versions merging as replicas merge (`RecordPrecedence`), so the
/// newest wins. Appending touches only the last pages of one B-tree, where an upsert by id
/// dirtied a random page of two indexes per row (a 10,000-key import rewrote most of a
/// million-key index); superseded rows are dropped by `compact`. Usage that changes on the
/// hot path (`last_used_at`, credit usage) lives in its own tables so writing it never
/// rewrites a record. Data directories of earlier releases are converted at the first start
/// (JSON rows by `v4-binary-records`, the table keyed by id by `v5-record-log`); a release
/// from before that cannot read them afterwards.
public final class SQLiteKeyStorage: KeyStorage {
    private let database: DatabasePool

    public static let fileName = "keys.sqlite"

    /// Rows read from the cursor and decoded together (in parallel) when loading at start.
    private let loadBatchSize: Int

    /// `loadBatchSize` only changes how many rows are decoded together at start (tests
    /// make it small to cross batch boundaries).
    public init(directory: String, loadBatchSize: Int = 4_096) throws {
        self.loadBatchSize = max(1, loadBatchSize)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var configuration = Configuration()
        configuration.label = "gatehouse.keys"
        database = try DatabasePool(path: "\(directory)/\(Self.fileName)", configuration: configuration)
        // An acknowledged admin write must survive power loss: every commit syncs the WAL.
        // GRDB sets `NORMAL` on a pool's writer (which may lose the last commits); all
        // writes go through that one connection, so setting it there covers every write.
        // The writer's page cache at 32 MiB instead of SQLite's 2: set when the audit trail kept
        // an index row per imported key (rows at random places, each page missing from the cache
        // a read from the file: a tenth of an import's CPU on every node); that index is gone
        // (`v7-no-audit-key-index`) and the size has not been measured again since.
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        try Self.migrator.migrate(database)
    }

    /// `PRAGMA synchronous` of the connection that writes (2 is `FULL`).
    func writerSynchronousMode() throws -> Int {
        try database.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } ?? -1
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
        // What this node handed to each peer of a key's credits (escrow), as JSON `{member: amount}`.
        migrator.registerMigration("v2-credit-given") { db in
            try db.execute(sql: "ALTER TABLE key_credit_usage ADD COLUMN given TEXT NOT NULL DEFAULT '{}'")
        }
        // The refill period a credit usage row was counted in (0: a quota that does not refill).
        migrator.registerMigration("v3-credit-period") { db in
            try db.execute(sql: "ALTER TABLE key_credit_usage ADD COLUMN period INTEGER NOT NULL DEFAULT 0")
        }
        // Records in the binary codec instead of JSON: a fifth of the bytes, and a fraction of
        // the time to write and to load. Existing JSON rows are converted here, in rowid order,
        // a batch at a time; `record` keeps an empty string (the column is NOT NULL).
        migrator.registerMigration("v4-binary-records") { db in
            try db.execute(sql: "ALTER TABLE key_record ADD COLUMN data BLOB")
            let update = try db.makeStatement(sql: "UPDATE key_record SET data = ?, record = '' WHERE rowid = ?")
            let decoder = JSONDecoder()
            var after: Int64 = 0
            while true {
                let rows = try Row.fetchAll(
                    db, sql: "SELECT rowid, record FROM key_record WHERE rowid > ? ORDER BY rowid LIMIT 4096", arguments: [after])
                guard let last = rows.last else { break }
                for row in rows {
                    let text: String = row["record"]
                    let record = try decoder.decode(KeyRecord.self, from: Data(text.utf8))
                    try update.execute(arguments: [Self.blob(record), row["rowid"] as Int64])
                }
                after = last["rowid"]
            }
        }
        // Records in an append-only log instead of a table keyed by id (see the type's comment).
        migrator.registerMigration("v5-record-log") { db in
            try db.execute(sql: """
                CREATE TABLE key_log (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
                INSERT INTO key_log (data) SELECT data FROM key_record ORDER BY rowid;
                DROP TABLE key_record;
                """)
        }
        // The audit trail: entries whole in `AuditEntryCodec` (`data`), beside the columns a
        // search filters and sorts by, and each id's fingerprint for the anti-entropy digest.
        // Every search is newest first by (at, id), so each index ends with them.
        migrator.registerMigration("v6-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit_entry (
                    id TEXT PRIMARY KEY NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    fingerprint INTEGER NOT NULL,
                    data BLOB NOT NULL
                );
                CREATE INDEX audit_entry_at ON audit_entry(at, id);
                CREATE INDEX audit_entry_key ON audit_entry(key_id, at, id);
                CREATE INDEX audit_entry_actor ON audit_entry(actor, at, id);
                """)
        }
        // A build between two releases indexed every key of an import's audit entry in
        // `audit_key` (migration "v7-audit-keys"); searches find those entries by the key's
        // creation time now, and nothing reads or prunes that table: a data directory that
        // has it would keep a row per key imported then, forever.
        migrator.registerMigration("v7-no-audit-key-index") { db in
            try db.execute(sql: "DROP TABLE IF EXISTS audit_key")
        }
        return migrator
    }

    public func loadRecords() throws -> [KeyRecord] {
        var records: [KeyRecord] = []
        // Sized once: growing a million-record array by doubling copies it again and again.
        records.reserveCapacity(try recordCount())
        try forEachRecord { records.append($0) }
        return records
    }

    public func recordCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM key_log") } ?? 0
    }

    /// Every record, in table order, handed over batch by batch as it is decoded. Rows are
    /// read through a cursor; each batch is decoded on all cores while the caller indexes the
    /// batch before it (decoding and indexing overlap: together they are most of a start's
    /// time). Holding every row's bytes, or every record twice (once here, once in the
    /// caller's index), would only raise the peak at a million keys.
    public func forEachRecord(_ body: (KeyRecord) throws -> Void) throws {
        try database.read { db in
            var lastUsed: [String: Int64] = [:]
            let usage = try Row.fetchCursor(db, sql: "SELECT key_id, at FROM key_last_used")
            while let row = try usage.next() {
                lastUsed[row["key_id"]] = row["at"]
            }
            func handOver(_ decoding: BatchDecoding) throws {
                for var record in try decoding.records() {
                    if let used = lastUsed[record.id], used > (record.lastUsedAt ?? Int64.min) {
                        record.lastUsedAt = used
                    }
                    try body(record)
                }
            }
            var previous: BatchDecoding?
            var batch: [Data] = []
            batch.reserveCapacity(loadBatchSize)
            let blobs = try Data.fetchCursor(db, sql: "SELECT data FROM key_log ORDER BY seq")
            while let blob = try blobs.next() {
                batch.append(blob)
                if batch.count == loadBatchSize {
                    let decoding = BatchDecoding(batch)
                    if let previous { try handOver(previous) }
                    previous = decoding
                    batch.removeAll(keepingCapacity: true)
                }
            }
            let last = BatchDecoding(batch)
            if let previous { try handOver(previous) }
            try handOver(last)
        }
    }

    /// One batch of rows being decoded in the background (`decode`), until `records` waits
    /// for it.
    private final class BatchDecoding: @unchecked Sendable {
        private let done = DispatchGroup()
        /// Written once by the decoding task before `done` is left; read after waiting on it.
        private var result: Result<[KeyRecord], any Error> = .success([])

        init(_ blobs: [Data]) {
            done.enter()
            DispatchQueue.global().async { [self] in
                result = Result { try SQLiteKeyStorage.decode(blobs) }
                done.leave()
            }
        }

        func records() throws -> [KeyRecord] {
            done.wait()
            return try result.get()
        }
    }

    /// Decodes `blobs` in order on every core (`ParallelMap`); the first failure (in table
    /// order) is thrown.
    static func decode(_ blobs: [Data]) throws -> [KeyRecord] {
        let decoded = ParallelMap.map(blobs, minimumPerThread: 1024) { blob in
            Result { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: blob)) }
        }
        var records: [KeyRecord] = []
        records.reserveCapacity(blobs.count)
        for record in decoded { records.append(try record.get()) }
        return records
    }

    public func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage] {
        try database.read { db in
            var usage: [String: Gatekeeper.CreditUsage] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key_id, epoch, used, given, period FROM key_credit_usage") {
                let epochText: String = row["epoch"]
                guard let epoch = HybridTimestamp(parsing: epochText) else { continue }
                let givenText: String = row["given"]
                let given = (try? JSONDecoder().decode([String: Int64].self, from: Data(givenText.utf8))) ?? [:]
                usage[row["key_id"]] = Gatekeeper.CreditUsage(epoch: epoch, used: row["used"], given: given, period: row["period"])
            }
            return usage
        }
    }

    public func save(_ record: KeyRecord) throws {
        try save([record])
    }

    public func save(_ records: [KeyRecord]) throws {
        try save(records, audit: [])
    }

    public func save(_ records: [KeyRecord], audit: [AuditEntry]) throws {
        guard !records.isEmpty || !audit.isEmpty else { return }
        let rows = records.map { record in (record, Self.blob(record)) }
        try database.write { db in
            _ = try Self.insert(audit, into: db)
            // Compiled once per transaction, not once per row (an import writes thousands).
            let append = try db.cachedStatement(sql: "INSERT INTO key_log (data) VALUES (?)")
            for (_, blob) in rows { try append.execute(arguments: [blob]) }
        }
    }

    public func compact(through lastLoadedRow: Int64, current nextBatch: () throws -> [KeyRecord]?) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM key_log WHERE seq <= ?", arguments: [lastLoadedRow])
            let append = try db.cachedStatement(sql: "INSERT INTO key_log (data) VALUES (?)")
            while let batch = try nextBatch() {
                for record in batch { try append.execute(arguments: [Self.blob(record)]) }
            }
        }
    }

    public func lastRow() throws -> Int64 {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM key_log") } ?? 0
    }

    // MARK: Audit trail

    public func insertAudit(_ entries: [AuditEntry]) throws -> [AuditEntry] {
        guard !entries.isEmpty else { return [] }
        return try database.write { db in try Self.insert(entries, into: db) }
    }

    /// Adds the entries whose id is not held yet; returns those.
    private static func insert(_ entries: [AuditEntry], into db: Database) throws -> [AuditEntry] {
        guard !entries.isEmpty else { return [] }
        let insert = try db.cachedStatement(
            sql: "INSERT INTO audit_entry (id, at, actor, key_id, fingerprint, data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING")
        var added: [AuditEntry] = []
        for entry in entries {
            let fingerprint = Int64(bitPattern: AuditDigest.fingerprint(ofID: entry.id))
            let data = Data(AuditEntryCodec.encode(entry).readableBytesView)
            try insert.execute(arguments: [entry.id, entry.atMs, entry.actor, entry.keyID, fingerprint, data])
            if db.changesCount > 0 { added.append(entry) }
        }
        return added
    }

    public func queryAudit(_ query: AuditQuery) throws -> [AuditEntry] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let keyID = query.keyID {
            if let createdAtMs = query.keyCreatedAtMs {
                // Entries of several keys (`key_id` empty) are imports, dated when their keys
                // were created; of those, the ones whose bytes hold this id. An index of every
                // imported key was a random B-tree insert per key, a page of WAL each at a
                // million keys.
                conditions.append("(key_id = ? OR (key_id = '' AND at = ? AND instr(data, ?) > 0))")
                arguments += [keyID, createdAtMs, Data(keyID.utf8)]
            } else {
                conditions.append("key_id = ?")
                arguments += [keyID]
            }
        }
        if let actor = query.actor {
            conditions.append("actor = ?")
            arguments += [actor]
        }
        if let since = query.sinceMs {
            conditions.append("at >= ?")
            arguments += [since]
        }
        if let until = query.untilMs {
            conditions.append("at < ?")
            arguments += [until]
        }
        if let before = query.before {
            conditions.append("(at < ? OR (at = ? AND id < ?))")
            arguments += [before.atMs, before.atMs, before.id]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [query.limit]
        let sql = "SELECT data FROM audit_entry \(filter) ORDER BY at DESC, id DESC LIMIT ?"
        let entries = try database.read { db in
            try Data.fetchAll(db, sql: sql, arguments: arguments).map { try AuditEntryCodec.decode(ByteBuffer(bytes: $0)) }
        }
        // `instr` matches bytes: an entry naming a longer id that contains this one (only a
        // peer could send such an id) is not this key's.
        guard let keyID = query.keyID else { return entries }
        return entries.filter { $0.keyIDs.contains(keyID) }
    }

    public func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry] {
        let start = hour &* AuditDigest.bucketMs
        return try database.read { db in
            try Data.fetchAll(
                db, sql: "SELECT data FROM audit_entry WHERE at >= ? AND at < ? ORDER BY id LIMIT ? OFFSET ?",
                arguments: [start, start &+ AuditDigest.bucketMs, limit, offset]
            ).map { try AuditEntryCodec.decode(ByteBuffer(bytes: $0)) }
        }
    }

    public func loadAuditDigest() throws -> AuditDigest {
        try database.read { db in
            var digest = AuditDigest()
            let rows = try Row.fetchCursor(db, sql: "SELECT at, fingerprint FROM audit_entry")
            while let row = try rows.next() {
                let fingerprint: Int64 = row["fingerprint"]
                digest.add(atMs: row["at"], fingerprint: UInt64(bitPattern: fingerprint))
            }
            return digest
        }
    }

    public func pruneAudit(before cutoffMs: Int64) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM audit_entry WHERE at < ?", arguments: [cutoffMs])
            return db.changesCount
        }
    }

    /// A record as stored: its bytes in the binary record codec.
    static func blob(_ record: KeyRecord) -> Data {
        Data(KeyRecordCodec.encode(record).readableBytesView)
    }

    public func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws {
        guard !changes.isEmpty else { return }
        // Ten thousand keys in use means ten thousand rows a second: each statement is
        // compiled once per flush, not once per row.
        try database.write { db in
            let lastUsed = try db.cachedStatement(
                sql: "INSERT INTO key_last_used (key_id, at) VALUES (?, ?) ON CONFLICT(key_id) DO UPDATE SET at = MAX(at, excluded.at)")
            let credits = try db.cachedStatement(
                sql: """
                    INSERT INTO key_credit_usage (key_id, epoch, used, given, period) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(key_id) DO UPDATE SET epoch = excluded.epoch, used = excluded.used, given = excluded.given, period = excluded.period
                    """)
            let encoder = JSONEncoder()
            for change in changes {
                if let at = change.record.lastUsedAt {
                    try lastUsed.execute(arguments: [change.record.id, at])
                }
                if let usage = change.creditUsage {
                    try credits.execute(arguments: [
                        change.record.id, usage.epoch.description, usage.used, String(decoding: try encoder.encode(usage.given), as: UTF8.self),
                        usage.period,
                    ])
                }
            }
        }
    }
}
