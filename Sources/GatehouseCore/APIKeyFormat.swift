/// The shape of an API key: `<prefix>_<30 random base62><6 base62 of CRC32(everything before)>`.
///
/// 30 base62 digits carry 178.6 bits of entropy. The checksum covers the prefix, the
/// underscore and the random part, so a key with a swapped prefix is as malformed as a typo.
public enum APIKeyFormat {
    public static let randomLength = 30
    public static let checksumLength = 6
    public static let maxPrefixLength = 16
    public static let defaultPrefix = "gk"
    /// Everything after the underscore.
    public static let bodyLength = randomLength + checksumLength
    public static let maxKeyLength = maxPrefixLength + 1 + bodyLength

    /// Whether `prefix` is 1–16 of `[a-z0-9]`.
    public static func isValidPrefix(_ prefix: String) -> Bool {
        let bytes = Array(prefix.utf8)
        return (1...maxPrefixLength).contains(bytes.count) && bytes.allSatisfy(isPrefixByte)
    }

    @inlinable
    static func isPrefixByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// A fresh key. `prefix` must satisfy `isValidPrefix`.
    public static func generate(prefix: String, using generator: inout some RandomNumberGenerator) -> String {
        precondition(isValidPrefix(prefix), "invalid key prefix")
        var bytes = Array(prefix.utf8)
        bytes.append(UInt8(ascii: "_"))
        bytes.append(contentsOf: Base62.random(count: randomLength, using: &generator))
        let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
        bytes.append(contentsOf: Base62.fixedWidth(UInt64(crc), width: checksumLength))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Format and checksum check, without allocating. `true` means "worth a lookup".
    @inlinable
    public static func isWellFormed(_ key: UnsafeRawBufferPointer) -> Bool {
        let count = key.count
        guard count >= 1 + 1 + bodyLength, count <= maxKeyLength else { return false }
        let underscore = count - bodyLength - 1
        guard key[underscore] == UInt8(ascii: "_") else { return false }
        for index in 0..<underscore where !isPrefixByte(key[index]) { return false }
        for index in (underscore + 1)..<(count - checksumLength) where Base62.value(of: key[index]) == nil {
            return false
        }
        guard let expected = Base62.decode(UnsafeRawBufferPointer(rebasing: key[(count - checksumLength)...])) else {
            return false
        }
        return UInt64(CRC32.checksum(UnsafeRawBufferPointer(rebasing: key[..<(count - checksumLength)]))) == expected
    }

    public static func isWellFormed(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { isWellFormed(UnsafeRawBufferPointer($0)) }
    }

    /// Caller-supplied text fit to repeat in an error: a well-formed key becomes
    /// `(redacted key)` and anything else is cut to 64 bytes.
    public static func redacted(_ text: String) -> String {
        if isWellFormed(text) { return "(redacted key)" }
        let bytes = Array(text.utf8.prefix(64))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The part shown for display: prefix, underscore and the first four random digits.
    public static func displayStart(of key: String) -> String {
        let bytes = Array(key.utf8)
        guard let underscore = bytes.firstIndex(of: UInt8(ascii: "_")) else { return "" }
        return String(decoding: bytes[..<min(bytes.count, underscore + 5)], as: UTF8.self)
    }
}
