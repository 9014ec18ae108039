import NIOCore

/// Writes RESP replies straight into raw memory the caller has reserved.
///
/// A verify reply is two dozen small writes; through `ByteBuffer`'s `write…` methods each
/// one checks capacity, uniqueness and exclusive access again. Reserving an upper bound once
/// (`ByteBuffer.writeRESPReply(reserving:_:)`) and filling it with this cursor halves the
/// cost of a reply. Every method assumes the reservation holds its bytes; the reservation
/// is checked when the reply is done.
public struct RESPReplyCursor: ~Copyable {
    private let base: UnsafeMutableRawBufferPointer
    public private(set) var position = 0

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
    }

    /// Bytes a decimal `Int64` may take: a sign and 19 digits.
    public static let maxDecimalBytes = 20
    /// Bytes a `$<length>\r\n…\r\n` wrapper may add around a bulk string's contents.
    public static let bulkOverhead = 1 + maxDecimalBytes + 4
    /// Bytes an integer reply or a null may take.
    public static let maxIntegerBytes = 1 + maxDecimalBytes + 2

    @inline(__always)
    private mutating func write(byte: UInt8) {
        precondition(position < base.count, "RESP reply over its reservation")
        base[position] = byte
        position += 1
    }

    @inline(__always)
    private mutating func write(_ bytes: UnsafeRawBufferPointer) {
        precondition(position + bytes.count <= base.count, "RESP reply over its reservation")
        if let source = bytes.baseAddress, bytes.count > 0 {
            (base.baseAddress! + position).copyMemory(from: source, byteCount: bytes.count)
        }
        position += bytes.count
    }

    @inline(__always)
    private mutating func writeCRLF() {
        write(byte: 0x0D)
        write(byte: 0x0A)
    }

    /// Constant bytes, such as a field name already framed as a bulk string.
    public mutating func write(_ text: StaticString) {
        write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// "00", "01", … "99": two digits per division when formatting a decimal.
    private static let digitPairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    public mutating func writeDecimal(_ value: Int64) {
        if value >= 0 && value < 10 {
            write(byte: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, filled from the end
        var magnitude = value.magnitude
        let pairs = Self.digitPairs.utf8Start
        withUnsafeMutableBytes(of: &digits) { scratch in
            var start = scratch.count
            while magnitude >= 10 {
                let pair = Int(truncatingIfNeeded: magnitude % 100)
                magnitude /= 100
                start -= 2
                scratch[start] = pairs[2 * pair]
                scratch[start + 1] = pairs[2 * pair + 1]
            }
            if magnitude > 0 || start == scratch.count {
                start -= 1
                scratch[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude)
            }
            if value < 0 {
                start -= 1
                scratch[start] = UInt8(ascii: "-")
            }
            write(UnsafeRawBufferPointer(rebasing: scratch[start...]))
        }
    }

    private mutating func writeHeader(_ marker: UInt8, _ value: Int64) {
        write(byte: marker)
        writeDecimal(value)
        writeCRLF()
    }

    public mutating func writeInteger(_ value: Int64) {
        writeHeader(UInt8(ascii: ":"), value)
    }

    public mutating func writeBulkString(_ text: String) {
        var text = text
        text.withUTF8 { writeBulkString(bytes: UnsafeRawBufferPointer($0)) }
    }

    public mutating func writeBulkString(bytes: UnsafeRawBufferPointer) {
        writeHeader(UInt8(ascii: "$"), Int64(bytes.count))
        write(bytes)
        writeCRLF()
    }

    public mutating func writeArrayHeader(count: Int) {
        writeHeader(UInt8(ascii: "*"), Int64(count))
    }

    /// A map of `count` pairs: `%count` in RESP3, a flat array of `2 × count` in RESP2.
    public mutating func writeMapHeader(count: Int, _ version: RESPVersion) {
        switch version {
        case .v2: writeHeader(UInt8(ascii: "*"), Int64(count * 2))
        case .v3: writeHeader(UInt8(ascii: "%"), Int64(count))
        }
    }

    /// `_` in RESP3, the null bulk string `$-1` in RESP2.
    public mutating func writeNull(_ version: RESPVersion) {
        switch version {
        case .v2: write("$-1\r\n")
        case .v3: write("_\r\n")
        }
    }

    /// `#t`/`#f` in RESP3, the integers 1/0 in RESP2.
    public mutating func writeBoolean(_ value: Bool, _ version: RESPVersion) {
        switch version {
        case .v2: write(value ? ":1\r\n" : ":0\r\n")
        case .v3: write(value ? "#t\r\n" : "#f\r\n")
        }
    }

    public mutating func writeOptionalInteger(_ value: Int64?, _ version: RESPVersion) {
        if let value { writeInteger(value) } else { writeNull(version) }
    }

    public mutating func writeOptionalBulkString(_ value: String?, _ version: RESPVersion) {
        if let value { writeBulkString(value) } else { writeNull(version) }
    }
}

extension ByteBuffer {
    /// Reserves `maxBytes`, lets `body` write a reply into them with a `RESPReplyCursor`,
    /// and keeps what it wrote.
    public mutating func writeRESPReply(reserving maxBytes: Int, _ body: (inout RESPReplyCursor) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: maxBytes) { raw in
            var cursor = RESPReplyCursor(UnsafeMutableRawBufferPointer(rebasing: raw[..<maxBytes]))
            body(&cursor)
            return cursor.position
        }
    }
}
