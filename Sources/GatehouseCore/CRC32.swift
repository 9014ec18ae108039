/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) — the checksum inside every key.
///
/// It is not a security measure: it lets the hot path reject typos and random garbage
/// before any hashing or lookup, and lets secret scanners confirm a candidate offline.
public enum CRC32 {
    /// An inline array rather than an `Array`: reading it touches no reference count, which
    /// every event loop would otherwise contend on for every key checked.
    @usableFromInline
    static let table = InlineArray<256, UInt32> { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1)
        }
        return value
    }

    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0) }
    }
}
