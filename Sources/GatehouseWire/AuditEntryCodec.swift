import GatehouseCore
import NIOCore

/// Audit entries in bytes: on the data stream (`auditEntries`) and in each node's store.
///
/// An entry is its id, time (zigzag), node, actor, source, request id and action
/// (varint-length strings), a varint count of key ids and each (a string), then a varint count of changes, each a field name and two
/// optional values (`[present]` then the string). Reading checks every length against
/// `AuditRules` before it allocates; `AuditRules.isWellFormed` judges the rest.
public enum AuditEntryCodec {
    /// The fewest bytes an entry takes: seven empty strings, a time, a key count and a change count.
    public static let minimumBytes = 10

    public static func encode(_ entry: AuditEntry) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeAuditEntry(entry)
        return buffer
    }

    public static func decode(_ bytes: ByteBuffer) throws(GossipDecodeError) -> AuditEntry {
        var buffer = bytes
        let entry = try buffer.readAuditEntry()
        guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "\(buffer.readableBytes) bytes after the audit entry") }
        return entry
    }
}

extension ByteBuffer {
    @discardableResult
    public mutating func writeAuditEntry(_ entry: AuditEntry) -> Int {
        var written = writeVarintString(entry.id) + writeZigZag(entry.atMs) + writeVarintString(entry.node)
        written += writeVarintString(entry.actor) + writeVarintString(entry.source) + writeVarintString(entry.requestID)
        written += writeVarintString(entry.action.rawValue) + writeVarint(UInt64(entry.keyIDs.count))
        for keyID in entry.keyIDs { written += writeVarintString(keyID) }
        written += writeVarint(UInt64(entry.changes.count))
        for change in entry.changes {
            written += writeVarintString(change.field) + writeOptionalString(change.before) + writeOptionalString(change.after)
        }
        return written
    }

    public mutating func readAuditEntry() throws(GossipDecodeError) -> AuditEntry {
        let id = try readVarintString("audit id", maxBytes: 64)
        let atMs = try readZigZag("audit time")
        let node = try readVarintString("audit node", maxBytes: AuditRules.maxNodeBytes)
        let actor = try readVarintString("audit actor", maxBytes: AuditRules.maxActorBytes)
        let source = try readVarintString("audit source", maxBytes: AuditRules.maxSourceBytes)
        let requestID = try readVarintString("audit request id", maxBytes: AuditRules.maxRequestIDBytes)
        let action = try readVarintString("audit action", maxBytes: AuditRules.maxActionBytes)
        let keyCount = try readVarintCount("audit key ids", limit: AuditRules.maxKeysPerEntry)
        var keyIDs: [String] = []
        keyIDs.reserveCapacity(min(keyCount, readableBytes))
        for _ in 0..<keyCount { keyIDs.append(try readVarintString("audit key id", maxBytes: AuditRules.maxKeyIDBytes)) }
        let count = try readVarintCount("audit changes", limit: AuditRules.maxChanges)
        var changes: [AuditChange] = []
        changes.reserveCapacity(count)
        for _ in 0..<count {
            let field = try readVarintString("audit field", maxBytes: AuditRules.maxFieldBytes)
            changes.append(AuditChange(field: field, before: try readOptionalString(), after: try readOptionalString()))
        }
        return AuditEntry(
            id: id, atMs: atMs, node: node, actor: actor, source: source, requestID: requestID, action: AuditAction(rawValue: action),
            keyIDs: keyIDs, changes: changes)
    }

    private mutating func writeOptionalString(_ text: String?) -> Int {
        guard let text else { return writeInteger(UInt8(0)) }
        return writeInteger(UInt8(1)) + writeVarintString(text)
    }

    private mutating func readOptionalString() throws(GossipDecodeError) -> String? {
        switch try readChecked(UInt8.self) {
        case 0: return nil
        case 1: return try readVarintString("audit value", maxBytes: AuditRules.maxValueBytes)
        case let other: throw GossipDecodeError(.invalidField, "audit value flag \(other)")
        }
    }

    /// An audit digest: the oldest hour it speaks for (zigzag), a varint count of hours, each
    /// the hour (zigzag), the count (varint) and the fingerprint (8 bytes); hours strictly
    /// increasing, so each appears once.
    @discardableResult
    public mutating func writeAuditDigest(_ digest: AuditDigest) -> Int {
        var written = writeZigZag(digest.fromHour) + writeVarint(UInt64(digest.buckets.count))
        for hour in digest.buckets.keys.sorted() {
            let bucket = digest.buckets[hour]!
            written += writeZigZag(hour) + writeVarint(bucket.count) + writeInteger(bucket.fingerprint)
        }
        return written
    }

    public mutating func readAuditDigest(maxHours: Int) throws(GossipDecodeError) -> AuditDigest {
        let fromHour = try readZigZag("audit digest start")
        let count = try readVarintCount("audit digest hours", limit: maxHours)
        var buckets: [Int64: AuditDigest.Bucket] = [:]
        buckets.reserveCapacity(min(count, readableBytes / 10))
        var previous: Int64?
        for _ in 0..<count {
            let hour = try readZigZag("audit hour")
            if let previous, hour <= previous { throw GossipDecodeError(.invalidField, "audit digest hours out of order") }
            previous = hour
            let entries = try readVarint("audit hour count")
            buckets[hour] = AuditDigest.Bucket(count: entries, fingerprint: try readChecked(UInt64.self))
        }
        return AuditDigest(buckets: buckets, fromHour: fromHour)
    }
}
