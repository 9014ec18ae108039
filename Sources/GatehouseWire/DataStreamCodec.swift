import GatehouseCore
import GatehouseMembership
import NIOCore

/// The caps a data stream's decoder holds a peer to, and the bound of its counter bucket
/// dictionary. Both ends of a stream must use the same `maxBucketIDs` (the shell uses
/// `.default` on both); the other caps only bind the decoding side, and the shell batches
/// what it encodes to stay within them.
public struct DataStreamLimits: Hashable, Sendable {
    /// The largest frame plaintext accepted (the shell's length prefix enforces it first).
    public let maxFrameBytes: Int
    /// Records in a `records` or `recordsAndWant` frame.
    public let maxRecordsPerFrame: Int
    /// Ids in `want`, and entries in a `digestReply`.
    public let maxIDsPerFrame: Int
    /// Slots in a `counters` or `countersReply` frame; never more than `maxBucketIDs`, so a
    /// frame's buckets always fit a freshly reset dictionary.
    public let maxSlotsPerFrame: Int
    /// How many buckets a stream's dictionary holds before the encoder starts it over.
    public let maxBucketIDs: Int
    /// Entries in an `auditEntries` frame.
    public var maxAuditEntriesPerFrame: Int { ReplicationMachine.auditEntriesPerMessage }
    /// Hours in an `auditDigest` frame.
    public var maxAuditDigestHours: Int { ReplicationMachine.maxAuditDigestHours }

    public init(
        maxFrameBytes: Int = 1 << 20, maxRecordsPerFrame: Int = 1_024, maxIDsPerFrame: Int = 16_384,
        maxSlotsPerFrame: Int = 4_096, maxBucketIDs: Int = 65_536
    ) {
        self.maxFrameBytes = max(maxFrameBytes, ClusterEnvelope.headerBytes)
        self.maxRecordsPerFrame = max(maxRecordsPerFrame, 0)
        self.maxIDsPerFrame = max(maxIDsPerFrame, 0)
        self.maxBucketIDs = max(maxBucketIDs, 1)
        self.maxSlotsPerFrame = min(max(maxSlotsPerFrame, 0), self.maxBucketIDs)
    }

    public static let `default` = DataStreamLimits()
}

/// What the data stream's frames look like after `[version][kind]`:
///
/// - `hello`: the node as a short string.
/// - `records`: a varint count, then records (`KeyRecordCodec`).
/// - `digest`: a varint count (always 256), then each bucket as 8 bytes big-endian.
/// - `digestReply`: a varint count of bucket indices, each a varint; a varint count of
///   entries, each an id string and a timestamp.
/// - `recordsAndWant`: as `records`, then a varint count of id strings.
/// - `counters`: the origin as a short string, then slots (below).
/// - `countersRequest`: nothing.
/// - `countersReply`: slots.
/// - `escrowRows`, `escrowRestore`: a varint count of rows, each a ledger, the quota
///   (zigzag), what was spent (zigzag) and a varint count of `(member, amount)` hand-overs.
/// - `escrowWants`: a varint count of wants, each a ledger, the quota and the amount.
/// - `auditEntries`: a varint count of entries (`AuditEntryCodec`).
/// - `auditDigest`: a byte, 1 for a reply and 0 otherwise, then the digest (hours, each
///   with its count and fingerprint).
///
/// A ledger is `[kind]` then the key id: kind 1 (a limit) adds the limit's name and window
/// (zigzag), kind 2 (credits) the epoch's timestamp and the refill period (zigzag).
///
/// Slots are `[flags][varint count]` then per slot `[varint ref]`: `ref` 0 defines the next
/// bucket id inline (`[bucket][zigzag window index][varint count]`), and `ref` n > 0 names
/// id n − 1 given earlier on this stream (`[zigzag window delta][varint count]`, the delta
/// from the last window index sent for that id). Flag bit 0 empties the dictionary before
/// the frame's first slot; ids restart at 0. Ids are assigned in order, so the decoder's
/// dictionary only ever grows by one entry per definition and stops at `maxBucketIDs`.
enum DataStreamFormat {
    static let resetFlag: UInt8 = 1 << 0
    static let keyLimitBucket: UInt8 = 1
    static let throttleBucket: UInt8 = 2
    /// The fewest bytes of one digest reply entry: an empty id and a timestamp.
    static let minimumEntryBytes = 4
    /// The fewest bytes of one slot: a reference, a delta and a count.
    static let minimumSlotBytes = 3
    static let windowLedger: UInt8 = 1
    static let creditsLedger: UInt8 = 2
    /// The fewest bytes of one escrow row or want.
    static let minimumEscrowBytes = 5
}

extension ByteBuffer {
    /// A counter bucket's definition: its kind, its strings and its window.
    @discardableResult
    public mutating func writeCounterBucket(_ bucket: CounterBucket) -> Int {
        switch bucket {
        case .keyLimit(let keyID, let limit, let windowMs):
            writeInteger(DataStreamFormat.keyLimitBucket) + writeVarintString(keyID) + writeVarintString(limit) + writeZigZag(windowMs)
        case .throttle(let name, let windowMs):
            writeInteger(DataStreamFormat.throttleBucket) + writeVarintString(name) + writeZigZag(windowMs)
        }
    }

    public mutating func readCounterBucket() throws(GossipDecodeError) -> CounterBucket {
        let maxString = KeyRecordCodec.maxStringBytes
        switch try readChecked(UInt8.self) {
        case DataStreamFormat.keyLimitBucket:
            let keyID = try readVarintString("bucket key id", maxBytes: maxString)
            let limit = try readVarintString("bucket limit", maxBytes: maxString)
            return .keyLimit(keyID: keyID, limit: limit, windowMs: try readZigZag("bucket window"))
        case DataStreamFormat.throttleBucket:
            let name = try readVarintString("bucket name", maxBytes: maxString)
            return .throttle(name: name, windowMs: try readZigZag("bucket window"))
        case let kind:
            throw GossipDecodeError(.invalidField, "counter bucket kind \(kind)")
        }
    }

    @discardableResult
    public mutating func writeEscrowLedger(_ ledger: EscrowLedger) -> Int {
        switch ledger {
        case .window(let keyID, let limit, let windowMs):
            writeInteger(DataStreamFormat.windowLedger) + writeVarintString(keyID) + writeVarintString(limit) + writeZigZag(windowMs)
        case .credits(let keyID, let epoch, let period):
            writeInteger(DataStreamFormat.creditsLedger) + writeVarintString(keyID) + writeHybridTimestamp(epoch) + writeZigZag(period)
        }
    }

    public mutating func readEscrowLedger() throws(GossipDecodeError) -> EscrowLedger {
        let maxString = KeyRecordCodec.maxStringBytes
        switch try readChecked(UInt8.self) {
        case DataStreamFormat.windowLedger:
            let keyID = try readVarintString("ledger key id", maxBytes: maxString)
            let limit = try readVarintString("ledger limit", maxBytes: maxString)
            return .window(keyID: keyID, limit: limit, windowMs: try readZigZag("ledger window"))
        case DataStreamFormat.creditsLedger:
            let keyID = try readVarintString("ledger key id", maxBytes: maxString)
            let epoch = try readHybridTimestamp()
            return .credits(keyID: keyID, epoch: epoch, period: try readZigZag("ledger period"))
        case let kind:
            throw GossipDecodeError(.invalidField, "escrow ledger kind \(kind)")
        }
    }

    /// A row's hand-overs are written in member order, so equal rows give equal bytes.
    @discardableResult
    public mutating func writeEscrowRow(_ row: EscrowRow) -> Int {
        var written = writeEscrowLedger(row.ledger) + writeZigZag(row.quota) + writeZigZag(row.spent)
        written += writeVarint(UInt64(row.given.count))
        for member in row.given.keys.sorted() {
            written += writeVarintString(member) + writeZigZag(row.given[member] ?? 0)
        }
        return written
    }

    /// Reads a row; amounts must not be negative and a member appears once.
    public mutating func readEscrowRow(maxMembers: Int) throws(GossipDecodeError) -> EscrowRow {
        let ledger = try readEscrowLedger()
        let quota = try readZigZag("escrow quota")
        let spent = try readZigZag("escrow spent")
        guard quota >= 0, spent >= 0 else { throw GossipDecodeError(.invalidField, "negative escrow quota or spent") }
        let count = try readVarintCount("escrow hand-overs", limit: maxMembers)
        var given: [String: Int64] = [:]
        given.reserveCapacity(min(count, readableBytes / 2))
        for _ in 0..<count {
            let member = try readVarintString("escrow member", maxBytes: KeyRules.maxHolderBytes)
            let amount = try readZigZag("escrow amount")
            guard amount >= 0 else { throw GossipDecodeError(.invalidField, "negative escrow amount") }
            guard given.updateValue(amount, forKey: member) == nil else { throw GossipDecodeError(.invalidField, "escrow member repeated") }
        }
        return EscrowRow(ledger: ledger, quota: quota, spent: spent, given: given)
    }

    @discardableResult
    public mutating func writeEscrowWant(_ want: EscrowWant) -> Int {
        writeEscrowLedger(want.ledger) + writeZigZag(want.quota) + writeZigZag(want.amount)
    }

    public mutating func readEscrowWant() throws(GossipDecodeError) -> EscrowWant {
        let ledger = try readEscrowLedger()
        let quota = try readZigZag("want quota")
        let amount = try readZigZag("want amount")
        guard quota >= 0, amount >= 0 else { throw GossipDecodeError(.invalidField, "negative want") }
        return EscrowWant(ledger: ledger, quota: quota, amount: amount)
    }

    /// The id, a byte that says whether the record is revoked, the secret generation (varint)
    /// and the version: the entry's whole `RecordPrecedence`.
    @discardableResult
    public mutating func writeReplicaEntry(_ entry: ReplicaEntry) -> Int {
        writeVarintString(entry.id) + writeInteger(entry.precedence.revoked ? UInt8(1) : 0)
            + writeVarint(UInt64(entry.precedence.secretGeneration)) + writeHybridTimestamp(entry.version)
    }

    public mutating func readReplicaEntry() throws(GossipDecodeError) -> ReplicaEntry {
        let id = try readVarintString("entry id", maxBytes: KeyRecordCodec.maxStringBytes)
        let revoked: Bool
        switch try readChecked(UInt8.self) {
        case 0: revoked = false
        case 1: revoked = true
        case let other: throw GossipDecodeError(.invalidField, "entry revoked flag \(other)")
        }
        guard let generation = UInt32(exactly: try readVarint("entry secret generation")) else {
            throw GossipDecodeError(.invalidField, "entry secret generation is out of range")
        }
        let version = try readHybridTimestamp()
        return ReplicaEntry(id: id, precedence: RecordPrecedence(revoked: revoked, secretGeneration: generation, version: version))
    }
}
