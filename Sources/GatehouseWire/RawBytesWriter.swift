/// Writes the varints, strings and fixed-width integers of `ByteBuffer+Varint` straight into
/// memory a buffer lent (`ByteBuffer.writeWithUnsafeMutableBytes`), in the same byte forms.
///
/// Why: a `ByteBuffer` write checks capacity, uniqueness and exclusive access on every call,
/// and a varint was one call per byte. A key record is some thirty of those; encoded five
/// times per imported key in a three-node cluster (the disk and two streams here, the disk
/// on each peer), they were a tenth of the cluster's CPU during a bulk import. The caller
/// reserves an upper bound of the bytes once; every write still checks it stays inside
/// (a trap, never a write past the end).
struct RawBytesWriter {
    private let base: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
    }

    /// Most bytes a varint takes.
    static let maxVarintBytes = 10

    mutating func writeByte(_ value: UInt8) {
        precondition(count < base.count, "RawBytesWriter: the reserved bound was too small")
        base[count] = value
        count += 1
    }

    mutating func writeVarint(_ value: UInt64) {
        precondition(base.count - count >= Self.maxVarintBytes, "RawBytesWriter: the reserved bound was too small")
        var rest = value
        while rest >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: rest) | 0x80
            count += 1
            rest >>= 7
        }
        base[count] = UInt8(truncatingIfNeeded: rest)
        count += 1
    }

    mutating func writeZigZag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: value << 1) ^ UInt64(bitPattern: value >> 63))
    }

    /// A UTF-8 string behind a varint byte count.
    mutating func writeVarintString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            precondition(base.count - count >= utf8.count, "RawBytesWriter: the reserved bound was too small")
            if let source = utf8.baseAddress {
                (base.baseAddress! + count).copyMemory(from: source, byteCount: utf8.count)
            }
            count += utf8.count
        }
    }

    /// Big-endian, as `ByteBuffer.writeInteger` writes by default.
    mutating func writeBigEndian(_ value: UInt64) {
        precondition(base.count - count >= 8, "RawBytesWriter: the reserved bound was too small")
        base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt64.self)
        count += 8
    }
}
