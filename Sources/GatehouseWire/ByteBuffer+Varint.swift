import NIOCore

/// Variable-length integers and strings for the data plane's codecs, beside the fixed-width
/// helpers of the gossip codec (`readChecked`, `writeShortString`).
///
/// Integers are LEB128: seven bits a byte, least significant group first, the high bit set
/// on every byte but the last. Signed values are zigzag-mapped first (0, -1, 1, -2, … →
/// 0, 1, 2, 3, …) so small magnitudes of either sign stay short. Readers accept only the
/// shortest form, so every value has exactly one encoding.
extension ByteBuffer {
    @discardableResult
    public mutating func writeVarint(_ value: UInt64) -> Int {
        var rest = value
        var written = 0
        while rest >= 0x80 {
            written += writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        return written + writeInteger(UInt8(truncatingIfNeeded: rest))
    }

    @discardableResult
    public mutating func writeZigZag(_ value: Int64) -> Int {
        writeVarint(UInt64(bitPattern: value << 1) ^ UInt64(bitPattern: value >> 63))
    }

    /// A UTF-8 string behind a varint byte count.
    @discardableResult
    public mutating func writeVarintString(_ text: String) -> Int {
        writeVarint(UInt64(text.utf8.count)) + writeString(text)
    }

    public mutating func readVarint(_ field: String) throws(GossipDecodeError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readChecked(UInt8.self)
            // The tenth byte holds bit 63 alone; anything more would not fit in 64 bits.
            guard shift < 63 || byte <= 1 else { throw GossipDecodeError(.invalidField, "\(field) overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                guard byte != 0 || shift == 0 else { throw GossipDecodeError(.invalidField, "\(field) is not in its shortest form") }
                return value
            }
            shift += 7
        }
    }

    public mutating func readZigZag(_ field: String) throws(GossipDecodeError) -> Int64 {
        let raw = try readVarint(field)
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// A varint that must lie in `0...limit`: a count or length, checked before anything is
    /// allocated for it.
    public mutating func readVarintCount(_ field: String, limit: Int) throws(GossipDecodeError) -> Int {
        let raw = try readVarint(field)
        guard raw <= UInt64(max(limit, 0)) else { throw GossipDecodeError(.tooLarge, "\(field): \(raw), at most \(limit)") }
        return Int(raw)
    }

    /// A varint that must fit a non-negative `Int64`.
    public mutating func readVarintInt64(_ field: String) throws(GossipDecodeError) -> Int64 {
        let raw = try readVarint(field)
        guard raw <= UInt64(Int64.max) else { throw GossipDecodeError(.invalidField, "\(field) is out of range") }
        return Int64(raw)
    }

    /// A string written by `writeVarintString`, at most `maxBytes` of valid UTF-8.
    public mutating func readVarintString(_ field: String, maxBytes: Int) throws(GossipDecodeError) -> String {
        let length = try readVarintCount(field, limit: maxBytes)
        guard readableBytes >= length else { throw GossipDecodeError(.truncated, "\(field) ends early") }
        // ASCII (ids, scopes, names: nearly every string) is valid UTF-8 as it stands and is
        // taken without the general validation, whose generic setup cost more than the copy
        // (a fifth of a start's decoding at a million keys).
        let text = withUnsafeReadableBytes { readable -> String? in
            let bytes = UnsafeRawBufferPointer(rebasing: readable[..<length])
            var high: UInt8 = 0
            for byte in bytes { high |= byte }
            return high < 0x80 ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
        }
        guard let text else { throw GossipDecodeError(.invalidField, "\(field) is not UTF-8") }
        moveReaderIndex(forwardBy: length)
        return text
    }
}
