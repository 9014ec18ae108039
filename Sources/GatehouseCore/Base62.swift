/// Base62 (`0-9A-Za-z`): the alphabet of key secrets and public ids.
///
/// Chosen over base64 so a key is one "word" to double-click, to grep and to secret-scan.
public enum Base62 {
    /// The 62 ASCII digits, in value order.
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The value of one ASCII digit, or `nil` when the byte is not a base62 digit.
    @inlinable
    public static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte &- UInt8(ascii: "A") &+ 10
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte &- UInt8(ascii: "a") &+ 36
        default: return nil
        }
    }

    /// Writes `value` as exactly `width` base62 digits, most significant first, zero-padded.
    /// `value` must be below 62^width.
    public static func fixedWidth(_ value: UInt64, width: Int) -> [UInt8] {
        var digits = [UInt8](repeating: alphabet[0], count: width)
        var rest = value
        var index = width - 1
        while index >= 0 {
            digits[index] = alphabet[Int(rest % 62)]
            rest /= 62
            index -= 1
        }
        precondition(rest == 0, "value does not fit in \(width) base62 digits")
        return digits
    }

    /// Parses exactly the given digits as a number; `nil` on a non-digit or on overflow.
    @inlinable
    public static func decode(_ digits: UnsafeRawBufferPointer) -> UInt64? {
        var result: UInt64 = 0
        for byte in digits {
            guard let digit = value(of: byte) else { return nil }
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 62)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            result = sum
        }
        return result
    }

    /// `count` uniformly random base62 digits. Rejection sampling keeps every digit unbiased.
    public static func random(count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var digits: [UInt8] = []
        digits.reserveCapacity(count)
        while digits.count < count {
            var word = generator.next()
            for _ in 0..<8 where digits.count < count {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                // 248 = 4 * 62: bytes at or above it would favour the first digits.
                if byte < 248 { digits.append(alphabet[Int(byte % 62)]) }
            }
        }
        return digits
    }
}
