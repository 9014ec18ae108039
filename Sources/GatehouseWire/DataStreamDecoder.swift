import GatehouseCore
import GatehouseMembership
import NIOCore

/// Reads one data stream's frames (opened plaintext), the counterpart of `DataStreamEncoder`.
///
/// Every count is checked against `limits` before anything is allocated, and the bucket
/// dictionary never holds more than `maxBucketIDs` entries, whatever the peer sends. A frame
/// that fails leaves the dictionary exactly as it was before the frame (the shell closes the
/// stream on any error; this only guarantees nothing half-applied can be read later).
public struct DataStreamDecoder: Sendable {
    public let limits: DataStreamLimits
    /// By id: the bucket, and the last window index read for it.
    private var buckets: [CounterBucket] = []
    private var lastWindows: [Int64] = []
    private var undo = FrameUndo()

    public init(limits: DataStreamLimits = .default) {
        self.limits = limits
    }

    /// Buckets the peer has defined on this stream.
    public var definedBuckets: Int { buckets.count }

    public mutating func decode(_ frame: ByteBuffer) throws(GossipDecodeError) -> DataMessage {
        guard frame.readableBytes <= limits.maxFrameBytes else {
            throw GossipDecodeError(.tooLarge, "frame of \(frame.readableBytes) bytes, at most \(limits.maxFrameBytes)")
        }
        var buffer = frame
        undo.begin(bucketCount: buckets.count)
        do throws(GossipDecodeError) {
            let message = try readMessage(&buffer)
            guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "\(buffer.readableBytes) bytes after the frame") }
            undo.commit()
            return message
        } catch {
            undo.rollBack(buckets: &buckets, lastWindows: &lastWindows)
            throw error
        }
    }

    private mutating func readMessage(_ buffer: inout ByteBuffer) throws(GossipDecodeError) -> DataMessage {
        switch try buffer.readClusterHeader() {
        case .hello:
            return .hello(node: NodeID(try buffer.readShortString("node")))
        case .records:
            return .records(try readRecords(&buffer))
        case .digest:
            let count = try buffer.readVarintCount("digest buckets", limit: ReplicaDigest.bucketCount)
            guard count == ReplicaDigest.bucketCount else {
                throw GossipDecodeError(.invalidField, "a digest has \(ReplicaDigest.bucketCount) buckets, not \(count)")
            }
            var digest: [UInt64] = []
            digest.reserveCapacity(count)
            for _ in 0..<count { digest.append(try buffer.readChecked(UInt64.self)) }
            return .digest(ReplicaDigest(buckets: digest))
        case .digestReply:
            let bucketCount = try buffer.readVarintCount("digest reply buckets", limit: ReplicaDigest.bucketCount)
            var indices: [Int] = []
            indices.reserveCapacity(bucketCount)
            for _ in 0..<bucketCount {
                let index = try buffer.readVarintCount("bucket index", limit: ReplicaDigest.bucketCount - 1)
                indices.append(index)
            }
            let entryCount = try buffer.readVarintCount("digest reply entries", limit: limits.maxIDsPerFrame)
            var entries: [ReplicaEntry] = []
            entries.reserveCapacity(min(entryCount, buffer.readableBytes / DataStreamFormat.minimumEntryBytes))
            for _ in 0..<entryCount { entries.append(try buffer.readReplicaEntry()) }
            return .digestReply(buckets: indices, entries: entries)
        case .recordsAndWant:
            let records = try readRecords(&buffer)
            let wantCount = try buffer.readVarintCount("wanted ids", limit: limits.maxIDsPerFrame)
            var want: [String] = []
            want.reserveCapacity(min(wantCount, buffer.readableBytes))
            for _ in 0..<wantCount { want.append(try buffer.readVarintString("wanted id", maxBytes: KeyRecordCodec.maxStringBytes)) }
            return .recordsAndWant(records: records, want: want)
        case .counters:
            let origin = NodeID(try buffer.readShortString("origin"))
            return .counters(origin: origin, slots: try readSlots(&buffer))
        case .countersRequest:
            return .countersRequest
        case .countersReply:
            return .countersReply(slots: try readSlots(&buffer))
        case .escrowRows:
            return .escrowRows(try readEscrowRows(&buffer))
        case .escrowRestore:
            return .escrowRestore(try readEscrowRows(&buffer))
        case .escrowWants:
            let count = try buffer.readVarintCount("escrow wants", limit: limits.maxSlotsPerFrame)
            var wants: [EscrowWant] = []
            wants.reserveCapacity(min(count, buffer.readableBytes / DataStreamFormat.minimumEscrowBytes))
            for _ in 0..<count { wants.append(try buffer.readEscrowWant()) }
            return .escrowWants(wants)
        case .auditEntries:
            let count = try buffer.readVarintCount("audit entries", limit: limits.maxAuditEntriesPerFrame)
            var entries: [AuditEntry] = []
            entries.reserveCapacity(min(count, buffer.readableBytes / AuditEntryCodec.minimumBytes))
            for _ in 0..<count { entries.append(try buffer.readAuditEntry()) }
            return .auditEntries(entries)
        case .auditDigest:
            let reply: Bool
            switch try buffer.readChecked(UInt8.self) {
            case 0: reply = false
            case 1: reply = true
            case let other: throw GossipDecodeError(.invalidField, "audit digest reply flag \(other)")
            }
            return .auditDigest(try buffer.readAuditDigest(maxHours: limits.maxAuditDigestHours), reply: reply)
        case .ping, .pingRequest, .ack, .nack, .gossip, .pushPullRequest, .pushPullResponse:
            throw GossipDecodeError(.unknownType, "a membership message is not a data-stream frame")
        }
    }

    /// Rows are capped like slots; each names at most `KeyRules.maxHolders` members.
    private func readEscrowRows(_ buffer: inout ByteBuffer) throws(GossipDecodeError) -> [EscrowRow] {
        let count = try buffer.readVarintCount("escrow rows", limit: limits.maxSlotsPerFrame)
        var rows: [EscrowRow] = []
        rows.reserveCapacity(min(count, buffer.readableBytes / DataStreamFormat.minimumEscrowBytes))
        for _ in 0..<count { rows.append(try buffer.readEscrowRow(maxMembers: KeyRules.maxHolders)) }
        return rows
    }

    private func readRecords(_ buffer: inout ByteBuffer) throws(GossipDecodeError) -> [KeyRecord] {
        let count = try buffer.readVarintCount("records", limit: limits.maxRecordsPerFrame)
        var records: [KeyRecord] = []
        records.reserveCapacity(min(count, buffer.readableBytes / KeyRecordCodec.minimumBytes))
        for _ in 0..<count { records.append(try buffer.readKeyRecord()) }
        return records
    }

    private mutating func readSlots(_ buffer: inout ByteBuffer) throws(GossipDecodeError) -> [CounterSlot] {
        let flags = try buffer.readChecked(UInt8.self)
        guard flags & ~DataStreamFormat.resetFlag == 0 else { throw GossipDecodeError(.invalidField, "unknown slot flags") }
        if flags & DataStreamFormat.resetFlag != 0 {
            undo.saveForReset(buckets: &buckets, lastWindows: &lastWindows)
        }
        let count = try buffer.readVarintCount("slots", limit: limits.maxSlotsPerFrame)
        var slots: [CounterSlot] = []
        slots.reserveCapacity(min(count, buffer.readableBytes / DataStreamFormat.minimumSlotBytes))
        for _ in 0..<count {
            let reference = try buffer.readVarint("bucket reference")
            let id: Int
            if reference == 0 {
                guard buckets.count < limits.maxBucketIDs else {
                    throw GossipDecodeError(.tooLarge, "bucket dictionary already holds \(limits.maxBucketIDs) buckets")
                }
                let bucket = try buffer.readCounterBucket()
                let window = try buffer.readZigZag("window index")
                id = buckets.count
                buckets.append(bucket)
                lastWindows.append(window)
            } else {
                guard reference <= UInt64(buckets.count) else { throw GossipDecodeError(.invalidField, "bucket id \(reference - 1) was never defined") }
                id = Int(reference - 1)
                let delta = try buffer.readZigZag("window delta")
                undo.record(id: id, window: lastWindows[id])
                lastWindows[id] = lastWindows[id] &+ delta
            }
            slots.append(CounterSlot(bucket: buckets[id], windowIndex: lastWindows[id], count: try buffer.readVarintInt64("count")))
        }
        return slots
    }
}

/// What a frame changed in the decoder's dictionary, to put back if the frame fails: the
/// dictionary's size before it (new definitions only ever append), the windows it moved,
/// and the whole dictionary if the frame reset it.
private struct FrameUndo: Sendable {
    private struct Move: Sendable {
        var id: Int
        var window: Int64
    }

    private var bucketCount = 0
    private var moves: [Move] = []
    private var saved: (buckets: [CounterBucket], lastWindows: [Int64])?

    mutating func begin(bucketCount: Int) {
        self.bucketCount = bucketCount
        moves.removeAll(keepingCapacity: true)
        saved = nil
    }

    mutating func record(id: Int, window: Int64) {
        moves.append(Move(id: id, window: window))
    }

    mutating func saveForReset(buckets: inout [CounterBucket], lastWindows: inout [Int64]) {
        if saved == nil { saved = (buckets, lastWindows) }
        buckets = []
        lastWindows = []
        moves.removeAll(keepingCapacity: true)
    }

    mutating func commit() {
        moves.removeAll(keepingCapacity: true)
        saved = nil
    }

    mutating func rollBack(buckets: inout [CounterBucket], lastWindows: inout [Int64]) {
        if let saved {
            buckets = saved.buckets
            lastWindows = saved.lastWindows
        } else {
            for move in moves.reversed() { lastWindows[move.id] = move.window }
            buckets.removeSubrange(bucketCount...)
            lastWindows.removeSubrange(bucketCount...)
        }
        commit()
    }
}
