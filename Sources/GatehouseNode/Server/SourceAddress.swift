import GatehouseCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a caller's address as text (`IP` of VERIFY, `X-Forwarded-For`) into the core's
/// `SourceIdentity`: IPv4 as itself, IPv6 cut to its /64, anything else hashed.
public enum SourceAddress {
    public static func identity(_ text: UnsafeRawBufferPointer) -> SourceIdentity {
        guard text.count > 0, text.count < 64 else { return hashed(text) }
        var zeroTerminated = [CChar](repeating: 0, count: text.count + 1)
        for index in 0..<text.count { zeroTerminated[index] = CChar(bitPattern: text[index]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, zeroTerminated, &v4) == 1 {
            return SourceIdentity(high: 0, low: 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4.s_addr)))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, zeroTerminated, &v6) == 1 {
            let high = withUnsafeBytes(of: &v6) { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
            return SourceIdentity(high: high, low: 1)
        }
        return hashed(text)
    }

    public static func identity(_ text: String) -> SourceIdentity {
        var text = text
        return text.withUTF8 { identity(UnsafeRawBufferPointer($0)) }
    }

    /// FNV-1a, twice with different offsets: only to spread unparseable text over the
    /// sketch, which mixes again with its own random seeds.
    private static func hashed(_ text: UnsafeRawBufferPointer) -> SourceIdentity {
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in text {
            first = (first ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            second = (second ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return SourceIdentity(high: first | (1 << 63), low: second)
    }
}
