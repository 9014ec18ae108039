import NIOCore

/// The reply dialect a connection speaks: RESP2 until the client sends `HELLO 3`.
public enum RESPVersion: Int, Sendable {
    case v2 = 2
    case v3 = 3
}

/// RESP reply encoding, in ByteBuffer's `write…` style. Methods that differ between RESP2
/// and RESP3 take the connection's version.
extension ByteBuffer {
    private static let crlf: UInt16 = 0x0D0A

    /// Writes `value` in decimal straight into the buffer: replies carry a dozen numbers
    /// (lengths and values), and formatting each through `String` would allocate each time.
    @inlinable
    mutating func writeDecimal(_ value: Int64) {
        if value >= 0 && value < 10 {
            writeInteger(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var magnitude = value.magnitude
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        let negative = value < 0
        let width = digits + (negative ? 1 : 0)
        writeWithUnsafeMutableBytes(minimumWritableBytes: width) { buffer in
            if negative { buffer[0] = UInt8(ascii: "-") }
            var position = width - 1
            repeat {
                buffer[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                position -= 1
            } while magnitude > 0
            return width
        }
    }

    private mutating func writeHeader(_ marker: UInt8, _ value: Int64) {
        writeInteger(marker)
        writeDecimal(value)
        writeInteger(Self.crlf)
    }

    /// `+text\r\n`. `text` must not contain CR or LF.
    public mutating func writeRESPSimpleString(_ text: String) {
        writeInteger(UInt8(ascii: "+"))
        writeString(text)
        writeInteger(Self.crlf)
    }

    /// `-CODE message\r\n`. CR and LF in the message are replaced by spaces.
    public mutating func writeRESPError(_ line: String) {
        writeInteger(UInt8(ascii: "-"))
        for byte in line.utf8 {
            writeInteger(byte == 0x0D || byte == 0x0A ? UInt8(ascii: " ") : byte)
        }
        writeInteger(Self.crlf)
    }

    public mutating func writeRESPInteger(_ value: Int64) {
        writeHeader(UInt8(ascii: ":"), value)
    }

    public mutating func writeRESPBulkString(_ text: String) {
        writeHeader(UInt8(ascii: "$"), Int64(text.utf8.count))
        writeString(text)
        writeInteger(Self.crlf)
    }

    public mutating func writeRESPBulkString(bytes: ByteBuffer) {
        writeHeader(UInt8(ascii: "$"), Int64(bytes.readableBytes))
        writeImmutableBuffer(bytes)
        writeInteger(Self.crlf)
    }

    /// `_` in RESP3, the null bulk string `$-1` in RESP2.
    public mutating func writeRESPNull(_ version: RESPVersion) {
        switch version {
        case .v2: writeStaticString("$-1\r\n")
        case .v3: writeStaticString("_\r\n")
        }
    }

    /// `#t`/`#f` in RESP3, the integers 1/0 in RESP2.
    public mutating func writeRESPBoolean(_ value: Bool, _ version: RESPVersion) {
        switch version {
        case .v2: writeStaticString(value ? ":1\r\n" : ":0\r\n")
        case .v3: writeStaticString(value ? "#t\r\n" : "#f\r\n")
        }
    }

    public mutating func writeRESPArrayHeader(count: Int) {
        writeHeader(UInt8(ascii: "*"), Int64(count))
    }

    /// A map of `count` pairs: `%count` in RESP3, a flat array of `2 × count` in RESP2.
    public mutating func writeRESPMapHeader(count: Int, _ version: RESPVersion) {
        switch version {
        case .v2: writeHeader(UInt8(ascii: "*"), Int64(count * 2))
        case .v3: writeHeader(UInt8(ascii: "%"), Int64(count))
        }
    }

    public mutating func writeRESPOptionalInteger(_ value: Int64?, _ version: RESPVersion) {
        if let value { writeRESPInteger(value) } else { writeRESPNull(version) }
    }

    public mutating func writeRESPOptionalBulkString(_ value: String?, _ version: RESPVersion) {
        if let value { writeRESPBulkString(value) } else { writeRESPNull(version) }
    }
}
