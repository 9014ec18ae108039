/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) — the checksum inside every key.
///
/// It is not a security measure: it lets the hot path reject typos and random garbage
/// before any hashing or lookup, and lets secret scanners confirm a candidate offline.
public enum CRC32 {
    /// Slicing-by-8 tables: `tables[k * 256 + n]` is the CRC of byte `n` followed by `k`
    /// zero bytes, so eight bytes are folded in per step instead of one.
    ///
    /// An inline array rather than an `Array`: reading it touches no reference count, which
    /// every event loop would otherwise contend on for every key checked.
    @usableFromInline
    static let tables: InlineArray<2048, UInt32> = {
        var tables = InlineArray<2048, UInt32>(repeating: 0)
        for index in 0..<256 {
            var value = UInt32(index)
            for _ in 0..<8 {
                value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1)
            }
            tables[index] = value
        }
        for index in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        var offset = 0
        while offset + 8 <= bytes.count {
            let low = crc ^ UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let high = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            crc = tables[7 * 256 + Int(low & 0xFF)] ^ tables[6 * 256 + Int((low >> 8) & 0xFF)]
                ^ tables[5 * 256 + Int((low >> 16) & 0xFF)] ^ tables[4 * 256 + Int(low >> 24)]
                ^ tables[3 * 256 + Int(high & 0xFF)] ^ tables[2 * 256 + Int((high >> 8) & 0xFF)]
                ^ tables[256 + Int((high >> 16) & 0xFF)] ^ tables[Int(high >> 24)]
            offset += 8
        }
        while offset < bytes.count {
            crc = tables[Int((crc ^ UInt32(bytes[offset])) & 0xFF)] ^ (crc >> 8)
            offset += 1
        }
        return crc ^ 0xFFFF_FFFF
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0) }
    }
}
