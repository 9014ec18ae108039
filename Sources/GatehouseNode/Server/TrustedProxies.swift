import Foundation

/// A block of addresses written as CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
/// IPv4 blocks are held in IPv4-mapped form, so they also match IPv4 peers of a dual-stack
/// listener.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public var base: IPAddress
    /// Leading bits that must match, counted in the 128-bit (mapped) form.
    public var prefixLength: Int

    /// Why a `trusted_proxies` entry is not a range.
    public enum ParseError: Error, Hashable, Sendable {
        case notAnAddress
        case prefixOutOfRange(maximum: Int)
        /// Bits set below the prefix (`10.0.0.1/8`): almost always a typo for another block.
        case hostBitsSet(network: AddressRange)
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parsing: parts[0]) else { throw .notAnAddress }
        let maximum = address.isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let given = Int(parts[1]) else { throw .notAnAddress }
            guard (0...maximum).contains(given) else { throw .prefixOutOfRange(maximum: maximum) }
            length = given
        }
        base = address
        prefixLength = address.isIPv4 ? 96 + length : length
        let network = AddressRange(base: masked(address), prefixLength: prefixLength)
        guard network.base == address else { throw .hostBitsSet(network: network) }
    }

    private init(base: IPAddress, prefixLength: Int) {
        self.base = base
        self.prefixLength = prefixLength
    }

    public func contains(_ address: IPAddress) -> Bool {
        masked(address) == base
    }

    private func masked(_ address: IPAddress) -> IPAddress {
        let highBits = min(prefixLength, 64)
        let lowBits = max(prefixLength - 64, 0)
        let highMask: UInt64 = highBits == 0 ? 0 : ~0 << (64 - highBits)
        let lowMask: UInt64 = lowBits == 0 ? 0 : ~0 << (64 - lowBits)
        return IPAddress(high: address.high & highMask, low: address.low & lowMask)
    }

    public var description: String {
        "\(base)/\(base.isIPv4 ? prefixLength - 96 : prefixLength)"
    }
}

/// The proxies whose forwarded headers are believed (`trusted_proxies`), and the walk that
/// finds the client behind them — nginx's `set_real_ip_from` with `real_ip_recursive on`.
///
/// - A peer that is not a trusted proxy is the client: whatever `X-Forwarded-For` or
///   `X-Real-IP` it sent is ignored, since any client can write them. With no trusted
///   proxies (the default) every peer is the client.
/// - From a trusted peer, `X-Forwarded-For` is read from the right (each proxy appends the
///   address it saw), skipping addresses that are themselves trusted proxies; the first
///   untrusted one is the client. Entries left of it were written by that client and are
///   never read. When every entry is trusted, the leftmost is the client; an entry that is
///   not an address ends the walk at the trusted hop that passed it on.
/// - `X-Real-IP` is read only from a trusted peer and only when there is no
///   `X-Forwarded-For`: a proxy that sets it (nginx `proxy_set_header X-Real-IP
///   $remote_addr`) overwrites the client's, but one that does not passes the client's on,
///   and `X-Forwarded-For` cannot be overwritten by the client that way.
public struct TrustedProxies: Hashable, Sendable {
    public var ranges: [AddressRange]

    public init(_ ranges: [AddressRange] = []) {
        self.ranges = ranges
    }

    public func contains(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// The client's address for a request from `peer`. `forwardedFor` holds the values of
    /// every `X-Forwarded-For` field in the order received.
    public func clientAddress(peer: IPAddress, forwardedFor: [String], realIP: String?) -> IPAddress {
        guard contains(peer) else { return peer }
        var client = peer
        var sawForwarded = false
        for field in forwardedFor.reversed() {
            for entry in field.split(separator: ",", omittingEmptySubsequences: false).reversed() {
                sawForwarded = true
                guard let address = IPAddress(parsing: entry.trimmingCharacters(in: .whitespaces)) else { return client }
                client = address
                guard contains(address) else { return client }
            }
        }
        if !sawForwarded, let realIP, let address = IPAddress(parsing: realIP.trimmingCharacters(in: .whitespaces)) {
            return address
        }
        return client
    }
}
