import GatehouseCore

/// Where a node keeps its replica of key records and its audit trail. The node writes
/// through it before it answers, and loads everything from it at start.
public protocol KeyStorage: AuditStorage {
    /// Every record, with usage (`last_used_at`) folded in.
    func loadRecords() throws -> [KeyRecord]
    /// The same records handed to `body` one at a time, so a start need not hold them all
    /// in an array next to the index it builds from them.
    func forEachRecord(_ body: (KeyRecord) throws -> Void) throws
    /// How many records a load will hand over (to size the index once), superseded versions
    /// included; `0` when unknown.
    func recordCount() throws -> Int
    /// Where the stored rows end now, for `compact` (`0` for a store that never compacts).
    func lastRow() throws -> Int64
    /// Replaces the rows up to `lastLoadedRow` (which a load read) by the records as they
    /// stand now, handed over in batches until `nextBatch` returns `nil`; rows stored after
    /// it are kept. All or nothing.
    func compact(through lastLoadedRow: Int64, current nextBatch: () throws -> [KeyRecord]?) throws
    /// Credit usage counted by this node, by key id.
    func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage]
    /// Inserts or replaces one record; durable when it returns.
    func save(_ record: KeyRecord) throws
    /// Inserts or replaces records together (one transaction where the store has them);
    /// durable when it returns.
    func save(_ records: [KeyRecord]) throws
    /// Inserts or replaces records and adds the audit entries of their write, together (one
    /// transaction where the store has them): an admin write is never on disk without its
    /// audit entry, nor the other way round. Durable when it returns.
    func save(_ records: [KeyRecord], audit: [AuditEntry]) throws
    /// Writes coalesced usage: `last_used_at` and credit usage of the given keys.
    func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws
}

extension KeyStorage {
    public func recordCount() throws -> Int { 0 }

    public func lastRow() throws -> Int64 { 0 }

    /// A store that keeps one row per key has nothing to compact.
    public func compact(through lastLoadedRow: Int64, current nextBatch: () throws -> [KeyRecord]?) throws {}

    public func save(_ records: [KeyRecord]) throws {
        for record in records { try save(record) }
    }

    public func forEachRecord(_ body: (KeyRecord) throws -> Void) throws {
        for record in try loadRecords() { try body(record) }
    }
}

/// Keys in memory only: for tests, and for nodes that must leave nothing on disk.
public final class InMemoryKeyStorage: KeyStorage {
    private struct Contents {
        var records: [String: KeyRecord] = [:]
        var usage: [String: Gatekeeper.CreditUsage] = [:]
    }

    private let contents = LockedBox(Contents())
    private let audit = InMemoryAuditStorage()

    public init() {}

    public func save(_ records: [KeyRecord], audit entries: [AuditEntry]) throws {
        try save(records)
        _ = try audit.insertAudit(entries)
    }

    public func insertAudit(_ entries: [AuditEntry]) throws -> [AuditEntry] { try audit.insertAudit(entries) }
    public func queryAudit(_ query: AuditQuery) throws -> [AuditEntry] { try audit.queryAudit(query) }
    public func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry] {
        try audit.auditEntries(inHour: hour, offset: offset, limit: limit)
    }
    public func loadAuditDigest() throws -> AuditDigest { try audit.loadAuditDigest() }
    public func pruneAudit(before cutoffMs: Int64) throws -> Int { try audit.pruneAudit(before: cutoffMs) }

    public func loadRecords() throws -> [KeyRecord] {
        contents.withLock { Array($0.records.values) }
    }

    public func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage] {
        contents.withLock { $0.usage }
    }

    public func recordCount() throws -> Int {
        contents.withLock { $0.records.count }
    }

    public func save(_ record: KeyRecord) throws {
        contents.withLock { $0.records[record.id] = record }
    }

    public func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws {
        contents.withLock { contents in
            for change in changes {
                contents.records[change.record.id]?.lastUsedAt = change.record.lastUsedAt
                if let usage = change.creditUsage { contents.usage[change.record.id] = usage }
            }
        }
    }
}
