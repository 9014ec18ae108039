import GatehouseCore

/// Where a node keeps its audit trail: append-only, searched newest first.
public protocol AuditStorage: Sendable {
    /// Adds the entries not held yet (by id); durable when it returns. Returns those added.
    func insertAudit(_ entries: [AuditEntry]) throws -> [AuditEntry]
    /// A page of entries matching `query`, newest first.
    func queryAudit(_ query: AuditQuery) throws -> [AuditEntry]
    /// Entries of one hour (`AuditDigest.hour`) in id order, `limit` of them after skipping `offset`.
    func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry]
    /// The summary of every entry held, built at start.
    func loadAuditDigest() throws -> AuditDigest
    /// Deletes entries older than `cutoffMs`; returns how many.
    func pruneAudit(before cutoffMs: Int64) throws -> Int
}

/// An audit trail in memory: for tests and nodes that keep nothing on disk.
public final class InMemoryAuditStorage: AuditStorage {
    private let entries = LockedBox<[String: AuditEntry]>([:])

    public init() {}

    public func insertAudit(_ new: [AuditEntry]) throws -> [AuditEntry] {
        entries.withLock { held in new.filter { held.updateValue($0, forKey: $0.id) == nil } }
    }

    public func queryAudit(_ query: AuditQuery) throws -> [AuditEntry] {
        let matching = entries.withLock { $0.values.filter(query.matches) }
        return Array(matching.sorted { AuditCursor($1) < AuditCursor($0) }.prefix(query.limit))
    }

    public func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry] {
        let inHour = entries.withLock { $0.values.filter { AuditDigest.hour(ofMs: $0.atMs) == hour } }.sorted { $0.id < $1.id }
        return Array(inHour.dropFirst(offset).prefix(limit))
    }

    public func loadAuditDigest() throws -> AuditDigest {
        var digest = AuditDigest()
        for entry in entries.withLock({ Array($0.values) }) { digest.add(atMs: entry.atMs, fingerprint: AuditDigest.fingerprint(ofID: entry.id)) }
        return digest
    }

    public func pruneAudit(before cutoffMs: Int64) throws -> Int {
        entries.withLock { held in
            let old = held.values.filter { $0.atMs < cutoffMs }.map(\.id)
            for id in old { held[id] = nil }
            return old.count
        }
    }
}
