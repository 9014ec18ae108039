import GatehouseCore
import NIOCore

/// Counter slots in a gossip datagram: `[version][type 20][sender][u16 count]` then per slot
/// `[kind][bucket fields][i64 window index][i64 count]`. Batches are cut to fit a datagram.
public enum CounterSyncCodec {
    public static let datagramType: UInt8 = 20
    static let keyLimitKind: UInt8 = 1
    static let throttleKind: UInt8 = 2

    /// Whether a decrypted datagram carries counter slots.
    public static func isCounterDatagram(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= 2 && bytes.first == GossipCodec.version && bytes[bytes.index(after: bytes.startIndex)] == datagramType
    }

    static func size(of slot: CounterSlot) -> Int {
        switch slot.bucket {
        case .keyLimit(let keyID, let limit, _): 1 + 1 + keyID.utf8.count + 1 + limit.utf8.count + 8 + 16
        case .throttle(let name, _): 1 + 2 + name.utf8.count + 8 + 16
        }
    }

    /// Encodes `slots` into as many datagrams (plaintext, each at most `maxBytes`) as needed.
    public static func encode(_ slots: [CounterSlot], sender: String, maxBytes: Int) -> [ByteBuffer] {
        let header = 2 + 1 + sender.utf8.count + 2
        var datagrams: [ByteBuffer] = []
        var batch: [CounterSlot] = []
        var size = header
        func flush() {
            guard !batch.isEmpty else { return }
            var buffer = ByteBuffer()
            buffer.writeInteger(GossipCodec.version)
            buffer.writeInteger(datagramType)
            buffer.writeShortString(sender)
            buffer.writeInteger(UInt16(batch.count))
            for slot in batch { write(slot, into: &buffer) }
            datagrams.append(buffer)
            batch.removeAll(keepingCapacity: true)
            size = header
        }
        for slot in slots {
            let slotSize = Self.size(of: slot)
            guard header + slotSize <= maxBytes else { continue }
            if size + slotSize > maxBytes { flush() }
            batch.append(slot)
            size += slotSize
        }
        flush()
        return datagrams
    }

    private static func write(_ slot: CounterSlot, into buffer: inout ByteBuffer) {
        switch slot.bucket {
        case .keyLimit(let keyID, let limit, let windowMs):
            buffer.writeInteger(keyLimitKind)
            buffer.writeShortString(keyID)
            buffer.writeShortString(limit)
            buffer.writeInteger(windowMs)
        case .throttle(let name, let windowMs):
            buffer.writeInteger(throttleKind)
            let bytes = name.utf8.prefix(Int(UInt16.max))
            buffer.writeInteger(UInt16(bytes.count))
            buffer.writeBytes(bytes)
            buffer.writeInteger(windowMs)
        }
        buffer.writeInteger(slot.windowIndex)
        buffer.writeInteger(slot.count)
    }

    public static func decode(_ bytes: ByteBuffer) throws(GossipDecodeError) -> (sender: String, slots: [CounterSlot]) {
        var buffer = bytes
        guard try buffer.readChecked(UInt8.self) == GossipCodec.version else { throw GossipDecodeError(.unknownVersion, "counter datagram version") }
        guard try buffer.readChecked(UInt8.self) == datagramType else { throw GossipDecodeError(.unknownType, "not a counter datagram") }
        let sender = try buffer.readShortString("sender")
        let count = Int(try buffer.readChecked(UInt16.self))
        guard count <= 1_000 else { throw GossipDecodeError(.tooLarge, "\(count) counter slots") }
        var slots: [CounterSlot] = []
        slots.reserveCapacity(min(count, buffer.readableBytes / 20))
        for _ in 0..<count {
            let bucket: CounterBucket
            switch try buffer.readChecked(UInt8.self) {
            case keyLimitKind:
                let keyID = try buffer.readShortString("key id")
                let limit = try buffer.readShortString("limit")
                bucket = .keyLimit(keyID: keyID, limit: limit, windowMs: try buffer.readChecked(Int64.self))
            case throttleKind:
                let length = Int(try buffer.readChecked(UInt16.self))
                guard length <= 1_024, let bytes = buffer.readBytes(length: length), let name = String(validating: bytes, as: UTF8.self) else {
                    throw GossipDecodeError(.invalidField, "throttle bucket name")
                }
                bucket = .throttle(name: name, windowMs: try buffer.readChecked(Int64.self))
            default:
                throw GossipDecodeError(.invalidField, "counter bucket kind")
            }
            let windowIndex = try buffer.readChecked(Int64.self)
            let slotCount = try buffer.readChecked(Int64.self)
            guard slotCount >= 0 else { throw GossipDecodeError(.invalidField, "negative count") }
            slots.append(CounterSlot(bucket: bucket, windowIndex: windowIndex, count: slotCount))
        }
        guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "after the counter slots") }
        return (sender, slots)
    }
}
