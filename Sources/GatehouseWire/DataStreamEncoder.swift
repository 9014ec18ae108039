import GatehouseCore
import GatehouseMembership
import NIOCore

/// Writes one data stream's frames (plaintext; the shell seals and length-prefixes each).
///
/// Stateful: the first time a counter bucket goes out it gets a short id and its definition
/// travels inline; later slots carry the id and the window index as a delta from the last
/// one sent for it, about 4–5 bytes a slot. That relies on the stream delivering every
/// frame, in order, to one `DataStreamDecoder` with the same `maxBucketIDs`: every frame
/// this returns must be sent (coalesce before encoding, never after), and a new connection
/// starts with a new encoder and decoder.
public struct DataStreamEncoder: Sendable {
    public let limits: DataStreamLimits
    private var bucketIDs: [CounterBucket: Int] = [:]
    /// By id: the last window index sent for the bucket.
    private var lastWindows: [Int64] = []
    /// How many times the dictionary filled up and started over.
    public private(set) var resets = 0

    public init(limits: DataStreamLimits = .default) {
        self.limits = limits
    }

    /// Buckets with an id on this stream.
    public var definedBuckets: Int { lastWindows.count }

    /// One frame's plaintext, `[version][kind][body]`. The shell keeps counts within
    /// `limits` (records, ids and slots per frame); a frame beyond them is refused by the
    /// peer, which closes the stream.
    public mutating func encode(_ message: DataMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        switch message {
        case .hello(let node):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 1 + node.name.utf8.count)
            buffer.writeClusterHeader(.hello)
            buffer.writeShortString(node.name)
        case .records(let records):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 2 + records.count * 160)
            buffer.writeClusterHeader(.records)
            buffer.writeRecords(records)
        case .digest(let digest):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 2 + digest.buckets.count * 8)
            buffer.writeClusterHeader(.digest)
            buffer.writeVarint(UInt64(digest.buckets.count))
            for bucket in digest.buckets { buffer.writeInteger(bucket) }
        case .digestReply(let buckets, let entries):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + buckets.count * 2 + entries.count * 40)
            buffer.writeClusterHeader(.digestReply)
            buffer.writeVarint(UInt64(buckets.count))
            // A negative index becomes a huge varint, which the reader refuses.
            for bucket in buckets { buffer.writeVarint(UInt64(truncatingIfNeeded: bucket)) }
            buffer.writeVarint(UInt64(entries.count))
            for entry in entries { buffer.writeReplicaEntry(entry) }
        case .recordsAndWant(let records, let want):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + records.count * 160 + want.count * 28)
            buffer.writeClusterHeader(.recordsAndWant)
            buffer.writeRecords(records)
            buffer.writeVarint(UInt64(want.count))
            for id in want { buffer.writeVarintString(id) }
        case .counters(let origin, let slots):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 1 + origin.name.utf8.count + 4 + slots.count * 6)
            buffer.writeClusterHeader(.counters)
            buffer.writeShortString(origin.name)
            writeSlots(slots, into: &buffer)
        case .countersRequest:
            buffer.writeClusterHeader(.countersRequest)
        case .countersReply(let slots):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + slots.count * 6)
            buffer.writeClusterHeader(.countersReply)
            writeSlots(slots, into: &buffer)
        case .escrowRows(let rows), .escrowRestore(let rows):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + rows.count * 48)
            if case .escrowRows = message { buffer.writeClusterHeader(.escrowRows) } else { buffer.writeClusterHeader(.escrowRestore) }
            buffer.writeVarint(UInt64(rows.count))
            for row in rows { buffer.writeEscrowRow(row) }
        case .escrowWants(let wants):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + wants.count * 40)
            buffer.writeClusterHeader(.escrowWants)
            buffer.writeVarint(UInt64(wants.count))
            for want in wants { buffer.writeEscrowWant(want) }
        case .auditEntries(let entries):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 2 + entries.count * 320)
            buffer.writeClusterHeader(.auditEntries)
            buffer.writeVarint(UInt64(entries.count))
            for entry in entries { buffer.writeAuditEntry(entry) }
        case .auditDigest(let digest, let reply):
            buffer.reserveCapacity(ClusterEnvelope.headerBytes + 4 + digest.buckets.count * 16)
            buffer.writeClusterHeader(.auditDigest)
            buffer.writeInteger(reply ? UInt8(1) : 0)
            buffer.writeAuditDigest(digest)
        }
        return buffer
    }

    private mutating func writeSlots(_ slots: [CounterSlot], into buffer: inout ByteBuffer) {
        let reset = needsReset(for: slots)
        if reset {
            bucketIDs.removeAll(keepingCapacity: true)
            lastWindows.removeAll(keepingCapacity: true)
            resets += 1
        }
        buffer.writeInteger(reset ? DataStreamFormat.resetFlag : 0)
        buffer.writeVarint(UInt64(slots.count))
        for slot in slots {
            if let id = bucketIDs[slot.bucket] {
                buffer.writeVarint(UInt64(id) + 1)
                buffer.writeZigZag(slot.windowIndex &- lastWindows[id])
                lastWindows[id] = slot.windowIndex
            } else {
                buffer.writeVarint(0)
                buffer.writeCounterBucket(slot.bucket)
                buffer.writeZigZag(slot.windowIndex)
                // Only a frame over `maxSlotsPerFrame` can find the dictionary full here; the
                // peer refuses that frame whatever it holds, so the bucket is not recorded.
                if lastWindows.count < limits.maxBucketIDs {
                    bucketIDs[slot.bucket] = lastWindows.count
                    lastWindows.append(slot.windowIndex)
                }
            }
            // Counts are never negative; clamping keeps a bug from costing ten bytes.
            buffer.writeVarint(UInt64(max(slot.count, 0)))
        }
    }

    /// Whether the frame's new buckets would overflow the dictionary. Counted exactly only
    /// when that is possible at all, so the common frame costs nothing extra.
    private func needsReset(for slots: [CounterSlot]) -> Bool {
        guard lastWindows.count + slots.count > limits.maxBucketIDs, !lastWindows.isEmpty else { return false }
        var fresh = Set<CounterBucket>()
        for slot in slots where bucketIDs[slot.bucket] == nil { fresh.insert(slot.bucket) }
        return lastWindows.count + fresh.count > limits.maxBucketIDs
    }
}

extension ByteBuffer {
    fileprivate mutating func writeRecords(_ records: [KeyRecord]) {
        writeVarint(UInt64(records.count))
        for record in records { writeKeyRecord(record) }
    }
}
