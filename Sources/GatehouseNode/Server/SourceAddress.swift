import GatehouseCore
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address as 128 bits, IPv4 held as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so
/// an IPv4 client is the same address whether it reached a dual-stack listener or an IPv4
/// one, or was written either way in a forwarded header.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(ipv4 bits: UInt32) {
        self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(bits))
    }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// Parses a bare IPv4 or IPv6 address (no port, brackets or zone).
    public init?(parsing text: some StringProtocol) {
        let parsed = text.utf8.withContiguousStorageIfAvailable { Self.parse(UnsafeRawBufferPointer($0)) }
            ?? Array(text.utf8).withUnsafeBytes { Self.parse($0) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses address text straight from a receive buffer, copying it only to the stack.
    public init?(bytes text: UnsafeRawBufferPointer) {
        guard let parsed = Self.parse(text) else { return nil }
        self = parsed
    }

    /// The address a socket is connected to; `nil` for a Unix socket.
    public init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self.init(ipv4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            self.init(in6: v6.address.sin6_addr)
        case .unixDomainSocket:
            return nil
        }
    }

    private init(in6 address: in6_addr) {
        var address = address
        let (high, low) = withUnsafeBytes(of: &address) {
            (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)), UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        self.init(high: high, low: low)
    }

    /// `inet_pton` on a zero-terminated copy of the text in stack memory.
    private static func parse(_ text: UnsafeRawBufferPointer) -> IPAddress? {
        // The longest IPv6 text form (with an embedded IPv4) is 45 characters.
        guard text.count > 0, text.count <= 45 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { copy -> IPAddress? in
            for index in 0..<text.count { copy[index] = CChar(bitPattern: text[index]) }
            copy[text.count] = 0
            var v4 = in_addr()
            if inet_pton(AF_INET, copy.baseAddress, &v4) == 1 {
                return IPAddress(ipv4: UInt32(bigEndian: v4.s_addr))
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, copy.baseAddress, &v6) == 1 {
                return IPAddress(in6: v6)
            }
            return nil
        }
    }

    /// Who this address is to the failed-attempt throttle: an IPv4 address exactly (mapped
    /// or not), an IPv6 address by its /64, the block one customer is usually given.
    public var sourceIdentity: SourceIdentity {
        isIPv4 ? SourceIdentity(high: 0, low: low) : SourceIdentity(high: high, low: 1)
    }

    public var description: String {
        if isIPv4 {
            let bits = UInt32(truncatingIfNeeded: low)
            return "\(bits >> 24).\(bits >> 16 & 0xFF).\(bits >> 8 & 0xFF).\(bits & 0xFF)"
        }
        let groups = (0..<8).map { index -> String in
            let word = index < 4 ? high >> (48 - 16 * UInt64(index)) : low >> (48 - 16 * UInt64(index - 4))
            return String(word & 0xFFFF, radix: 16)
        }
        return groups.joined(separator: ":")
    }
}

/// Turns a caller's address as text (`IP` of VERIFY, `ip` of `POST /v1/verify`) into the
/// core's `SourceIdentity`: IPv4 (also written IPv4-mapped) as itself, IPv6 cut to its /64,
/// anything else hashed.
public enum SourceAddress {
    public static func identity(_ text: UnsafeRawBufferPointer) -> SourceIdentity {
        IPAddress(bytes: text)?.sourceIdentity ?? hashed(text)
    }

    public static func identity(_ text: String) -> SourceIdentity {
        var text = text
        return text.withUTF8 { identity(UnsafeRawBufferPointer($0)) }
    }

    /// The identity of a connected peer; `nil` for a Unix socket.
    public static func identity(_ address: SocketAddress) -> SourceIdentity? {
        IPAddress(address)?.sourceIdentity
    }

    /// FNV-1a, twice with different offsets, with the top bit set so text never collides with
    /// an IPv4 address (high 0). Text is whatever the gateway sent: the table it is counted in
    /// hashes it again with a per-process random seed.
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
