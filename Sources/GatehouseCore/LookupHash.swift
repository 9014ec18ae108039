import COpenSSLCrypto
import Foundation

/// `HMAC-SHA256(pepper, key)`: the only form of a key that is kept, stored or gossiped.
///
/// Four words instead of `Data` so it hashes and compares without touching the heap.
public struct LookupHash: Hashable, Sendable, CustomStringConvertible {
    public var w0: UInt64
    public var w1: UInt64
    public var w2: UInt64
    public var w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// From a SHA-256 sized digest (32 bytes), big-endian words, without allocating.
    init(digest raw: UnsafeRawBufferPointer) {
        self.init(
            w0: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            w1: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            w2: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            w3: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// From exactly 32 bytes, big-endian words.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() {
            words[index / 8] = (words[index / 8] << 8) | UInt64(byte)
        }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    public init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(chars[index]), let low = Self.nibble(chars[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public var bytes: [UInt8] {
        [w0, w1, w2, w3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> (UInt64($0) * 8)) } }
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Not the hash itself: a lookup hash is not secret, but there is no reason to print it whole.
    public var description: String { "LookupHash(\(String(hex.prefix(8)))…)" }
}

/// Computes lookup hashes, `HMAC-SHA256(pepper, key)` (RFC 2104), with the pepper's key
/// schedule done once, at start.
///
/// The inner and outer SHA-256 states after the pepper's ipad and opad blocks are kept as
/// OpenSSL `SHA256_CTX` values; a hash copies both (plain C structs, on the stack) and feeds
/// them the key and then the inner digest. That is HMAC built from the library's SHA-256, not
/// a SHA-256 of our own, and it allocates nothing: swift-crypto's `HMAC<SHA256>` hashes into
/// copy-on-write heap state (two allocations and a quarter of a VERIFY's CPU in a profile),
/// and its BoringSSL is not a product of the package. Lookup hashes are persisted and
/// gossiped, so this must equal swift-crypto's `HMAC<SHA256>` for every pepper and key:
/// `LookupHasherTests` checks it on random inputs.
public struct LookupHasher: Sendable {
    private let inner: SHA256_CTX
    private let outer: SHA256_CTX

    /// `pepper` must be at least 32 bytes; it is the cluster-wide secret that makes a
    /// stolen database of lookup hashes useless without the pepper.
    public init(pepper: [UInt8]) {
        precondition(pepper.count >= 32, "the pepper must be at least 32 bytes")
        // RFC 2104: a key longer than the block is replaced by its hash; the block is zero-padded.
        let keyBlock = pepper.count > Self.blockSize ? Self.sha256(pepper) + [UInt8](repeating: 0, count: Self.blockSize - 32)
            : pepper + [UInt8](repeating: 0, count: Self.blockSize - pepper.count)
        inner = Self.state(afterBlock: keyBlock.map { $0 ^ 0x36 })
        outer = Self.state(afterBlock: keyBlock.map { $0 ^ 0x5C })
    }

    public func hash(_ key: UnsafeRawBufferPointer) -> LookupHash {
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digest) { digest in
            let bytes = digest.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var context = inner
            SHA256_Update(&context, key.baseAddress, key.count)
            SHA256_Final(bytes, &context)
            context = outer
            SHA256_Update(&context, bytes, digest.count)
            SHA256_Final(bytes, &context)
        }
        return withUnsafeBytes(of: digest, LookupHash.init(digest:))
    }

    public func hash(_ key: String) -> LookupHash {
        var key = key
        return key.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// SHA-256's block size in bytes, the size of HMAC's key block.
    private static let blockSize = 64

    private static func state(afterBlock block: [UInt8]) -> SHA256_CTX {
        var context = SHA256_CTX()
        SHA256_Init(&context)
        SHA256_Update(&context, block, block.count)
        return context
    }

    private static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var context = SHA256_CTX()
        SHA256_Init(&context)
        SHA256_Update(&context, bytes, bytes.count)
        SHA256_Final(&digest, &context)
        return digest
    }
}

/// The bytes of one key, handed to swift-crypto's `SHA256.hash(data:)`.
///
/// `hash(data:)` is generic over `DataProtocol` and not specialised for callers outside
/// swift-crypto, so with a generic argument such as `UnsafeRawBufferPointer` (whose regions
/// are a `CollectionOfOne<…>`) every call looks up generic type metadata at run time — more
/// time than the hashing itself. This type and its regions are not generic, so their
/// metadata is static.
struct KeyBytes: DataProtocol, ContiguousBytes {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var startIndex: Int { 0 }
    var endIndex: Int { bytes.count }
    subscript(position: Int) -> UInt8 { bytes[position] }
    subscript(bounds: Range<Int>) -> KeyBytes { KeyBytes(UnsafeRawBufferPointer(rebasing: bytes[bounds])) }

    var regions: KeyRegions { KeyRegions(only: self) }

    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(bytes)
    }
}

/// The single region of a `KeyBytes`.
struct KeyRegions: BidirectionalCollection {
    let only: KeyBytes

    var startIndex: Int { 0 }
    var endIndex: Int { 1 }
    func index(after index: Int) -> Int { index + 1 }
    func index(before index: Int) -> Int { index - 1 }
    subscript(position: Int) -> KeyBytes { only }

    func makeIterator() -> Iterator { Iterator(only: only) }

    struct Iterator: IteratorProtocol {
        var only: KeyBytes?
        mutating func next() -> KeyBytes? {
            defer { only = nil }
            return only
        }
    }
}
