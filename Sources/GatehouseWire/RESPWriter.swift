import NIOCore

/// The reply dialect a connection speaks: RESP2 until the client sends `HELLO 3`.
public enum RESPVersion: Int, Sendable {
    case v2 = 2
    case v3 = 3
}

/// RESP reply encoding, in ByteBuffer's `write…` style. Methods that differ between RESP2
/// and RESP3 take the connection's version. Each writes through a `RESPReplyCursor`, the one
/// place the encoding is spelled out.
extension ByteBuffer {
    /// `+text\r\n`. `text` must not contain CR or LF.
    public mutating func writeRESPSimpleString(_ text: String) {
        writeInteger(UInt8(ascii: "+"))
        writeString(text)
        writeInteger(UInt16(0x0D0A))
    }

    /// `-CODE message\r\n`. CR and LF in the message are replaced by spaces.
    public mutating func writeRESPError(_ line: String) {
        writeInteger(UInt8(ascii: "-"))
        for byte in line.utf8 {
            writeInteger(byte == 0x0D || byte == 0x0A ? UInt8(ascii: " ") : byte)
        }
        writeInteger(UInt16(0x0D0A))
    }

    public mutating func writeRESPInteger(_ value: Int64) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeInteger(value) }
    }

    public mutating func writeRESPBulkString(_ text: String) {
        writeRESPReply(reserving: text.utf8.count + RESPReplyCursor.bulkOverhead) { $0.writeBulkString(text) }
    }

    public mutating func writeRESPBulkString(bytes: ByteBuffer) {
        writeRESPReply(reserving: bytes.readableBytes + RESPReplyCursor.bulkOverhead) { out in
            bytes.withUnsafeReadableBytes { out.writeBulkString(bytes: $0) }
        }
    }

    /// `_` in RESP3, the null bulk string `$-1` in RESP2.
    public mutating func writeRESPNull(_ version: RESPVersion) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeNull(version) }
    }

    /// `#t`/`#f` in RESP3, the integers 1/0 in RESP2.
    public mutating func writeRESPBoolean(_ value: Bool, _ version: RESPVersion) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeBoolean(value, version) }
    }

    public mutating func writeRESPArrayHeader(count: Int) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeArrayHeader(count: count) }
    }

    /// A map of `count` pairs: `%count` in RESP3, a flat array of `2 × count` in RESP2.
    public mutating func writeRESPMapHeader(count: Int, _ version: RESPVersion) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeMapHeader(count: count, version) }
    }

    public mutating func writeRESPOptionalInteger(_ value: Int64?, _ version: RESPVersion) {
        writeRESPReply(reserving: RESPReplyCursor.maxIntegerBytes) { $0.writeOptionalInteger(value, version) }
    }

    public mutating func writeRESPOptionalBulkString(_ value: String?, _ version: RESPVersion) {
        writeRESPReply(reserving: (value?.utf8.count ?? 0) + RESPReplyCursor.bulkOverhead) { $0.writeOptionalBulkString(value, version) }
    }
}
