import GatehouseClient
import GatehouseCore
import GatehouseNode
import NIOCore
import Testing

@Suite("Source addresses and trusted proxies")
struct SourceAddressTests {
    static func address(_ text: String) throws -> IPAddress {
        try #require(IPAddress(parsing: text))
    }

    @Test func ipv4MappedIPv6IsTheIPv4Address() throws {
        #expect(SourceAddress.identity("::ffff:198.51.100.1") == SourceAddress.identity("198.51.100.1"))
        #expect(SourceAddress.identity("::ffff:198.51.100.1") != SourceAddress.identity("::ffff:198.51.100.2"))
        #expect(SourceAddress.identity("::FFFF:c633:6401") == SourceAddress.identity("198.51.100.1"))
        let mappedPeer = try SocketAddress(ipAddress: "::ffff:198.51.100.1", port: 4000)
        let plainPeer = try SocketAddress(ipAddress: "198.51.100.1", port: 4001)
        #expect(SourceAddress.identity(mappedPeer) == SourceAddress.identity(plainPeer))
        #expect(SourceAddress.identity(plainPeer) == SourceAddress.identity("198.51.100.1"))
    }

    @Test func ipv6CountsBySlash64AndTextIsHashed() throws {
        #expect(SourceAddress.identity("2001:db8:1:2::1") == SourceAddress.identity("2001:db8:1:2:ffff::9"))
        #expect(SourceAddress.identity("2001:db8:1:2::1") != SourceAddress.identity("2001:db8:1:3::1"))
        let peer = try SocketAddress(ipAddress: "2001:db8:1:2::7", port: 1)
        #expect(SourceAddress.identity(peer) == SourceAddress.identity("2001:db8:1:2::1"))
        #expect(SourceAddress.identity("gateway-7") == SourceAddress.identity("gateway-7"))
        #expect(SourceAddress.identity("gateway-7") != SourceAddress.identity("gateway-8"))
        #expect(IPAddress(parsing: "198.51.100.1:80") == nil)
        #expect(IPAddress(parsing: "") == nil)
    }

    @Test func sixtyBadKeysFromOneMappedAddressDoNotThrottleItsNeighbour() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        let client = try await node.client()
        for attempt in 0..<60 {
            let answer = try await client.verify("gk_bad\(attempt)", ip: "::ffff:198.51.100.1")
            #expect(answer.code == .malformed)
        }
        #expect(try await client.verify(key.secret, ip: "::ffff:198.51.100.1").code == .sourceThrottled)
        #expect(try await client.verify(key.secret, ip: "198.51.100.1").code == .sourceThrottled)
        #expect(try await client.verify(key.secret, ip: "::ffff:198.51.100.2").code == .valid)
        #expect(try await client.verify(key.secret, ip: "198.51.100.2").code == .valid)
        try await client.close()
        try await node.stop()
    }

    // MARK: CIDR blocks and the X-Forwarded-For walk

    @Test func rangesParseAndMatch() throws {
        let ten = try AddressRange(parsing: "10.0.0.0/8")
        #expect(ten.contains(try Self.address("10.200.0.1")))
        #expect(ten.contains(try Self.address("::ffff:10.1.2.3")))
        #expect(!ten.contains(try Self.address("11.0.0.1")))
        let single = try AddressRange(parsing: "192.0.2.7")
        #expect(single.contains(try Self.address("192.0.2.7")))
        #expect(!single.contains(try Self.address("192.0.2.8")))
        let v6 = try AddressRange(parsing: "2001:db8::/32")
        #expect(v6.contains(try Self.address("2001:db8:ffff::1")))
        #expect(!v6.contains(try Self.address("2001:db9::1")))
        #expect(try AddressRange(parsing: "0.0.0.0/0").contains(try Self.address("203.0.113.1")))
        #expect(!(try AddressRange(parsing: "0.0.0.0/0").contains(try Self.address("2001:db8::1"))), "an IPv4 block holds no IPv6 address")
        #expect(try AddressRange(parsing: "::/0").contains(try Self.address("203.0.113.1")))
        #expect(ten.description == "10.0.0.0/8")
    }

    @Test(arguments: [
        ("proxy.internal", AddressRange.ParseError.notAnAddress),
        ("10.0.0.0/", .notAnAddress),
        ("10.0.0.0/+8", .notAnAddress),
        ("10.0.0.0/33", .prefixOutOfRange(maximum: 32)),
        ("2001:db8::/129", .prefixOutOfRange(maximum: 128)),
    ])
    func badRangesAreRefused(text: String, error: AddressRange.ParseError) {
        #expect(throws: error) { try AddressRange(parsing: text) }
    }

    @Test func hostBitsBeyondThePrefixAreRefusedWithTheBlockMeant() throws {
        do {
            _ = try AddressRange(parsing: "10.0.0.1/8")
            Issue.record("10.0.0.1/8 must be refused")
        } catch {
            guard case .hostBitsSet(let network) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(network.description == "10.0.0.0/8")
        }
    }

    static let proxies = TrustedProxies([
        try! AddressRange(parsing: "127.0.0.0/8"), try! AddressRange(parsing: "10.0.0.0/8"), try! AddressRange(parsing: "fd00::/8"),
    ])

    @Test func withoutTrustedProxiesThePeerIsTheClient() throws {
        let peer = try Self.address("203.0.113.9")
        let client = TrustedProxies().clientAddress(peer: peer, forwardedFor: ["198.51.100.7"], realIP: "198.51.100.7")
        #expect(client == peer)
        let fromUntrusted = Self.proxies.clientAddress(peer: peer, forwardedFor: ["198.51.100.7"], realIP: "198.51.100.7")
        #expect(fromUntrusted == peer, "headers from a peer that is not a trusted proxy are ignored")
    }

    @Test func theRightmostUntrustedHopIsTheClient() throws {
        let peer = try Self.address("127.0.0.1")
        let walk = { (fields: [String], realIP: String?) in Self.proxies.clientAddress(peer: peer, forwardedFor: fields, realIP: realIP) }
        // The client wrote the leftmost entry; the proxy appended the address it saw.
        #expect(walk(["198.51.100.7, 203.0.113.9"], "198.51.100.7") == (try Self.address("203.0.113.9")))
        // Trusted hops are skipped, across several fields too.
        #expect(walk(["198.51.100.7, 203.0.113.9, 10.1.2.3", "fd00::1"], nil) == (try Self.address("203.0.113.9")))
        // Every hop trusted: the leftmost.
        #expect(walk(["10.0.0.5, 10.0.0.6"], nil) == (try Self.address("10.0.0.5")))
        // An entry that is not an address ends the walk at the trusted hop that passed it on.
        #expect(walk(["203.0.113.9, garbage, 10.0.0.6"], nil) == (try Self.address("10.0.0.6")))
        #expect(walk(["unknown"], nil) == peer)
        // IPv4-mapped entries are IPv4 addresses.
        #expect(walk([" ::ffff:203.0.113.9 "], nil) == (try Self.address("203.0.113.9")))
    }

    @Test func xRealIPIsBelievedOnlyFromATrustedPeerWithoutXForwardedFor() throws {
        let trusted = try Self.address("127.0.0.1")
        #expect(Self.proxies.clientAddress(peer: trusted, forwardedFor: [], realIP: "198.51.100.7") == (try Self.address("198.51.100.7")))
        #expect(Self.proxies.clientAddress(peer: trusted, forwardedFor: [], realIP: "nonsense") == trusted)
        #expect(Self.proxies.clientAddress(peer: trusted, forwardedFor: ["203.0.113.9"], realIP: "198.51.100.7") == (try Self.address("203.0.113.9")))
    }

    // MARK: Config

    @Test(arguments: [
        ("[\"10.0.0.0/8\", proxy.internal]", "trusted_proxies[1]", "is not an IP address"),
        ("[\"10.0.0.0/33\"]", "trusted_proxies[0]", "prefix length over 32"),
        ("[\"10.0.0.1/8\"]", "trusted_proxies[0]", "bits set beyond its prefix"),
        ("\"10.0.0.0/8\"", "trusted_proxies", "wrong type"),
    ])
    func badTrustedProxiesNameTheEntry(list: String, field: String, problem: String) {
        let yaml = "trusted_proxies: \(list)\nnodes:\n  - {id: n1}\n"
        do {
            _ = try ConfigLoader.load(yaml: yaml, nodeID: nil, environment: [:], baseDirectory: ".")
            Issue.record("expected a config error for \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.problem.contains(problem))
            #expect(!error.fix.isEmpty)
        }
    }

    @Test func trustedProxiesLoadAndDefaultToNone() throws {
        let yaml = "trusted_proxies: [\"10.0.0.0/8\", \"::1\", 192.0.2.7]\nfailed_attempts: {tracked_sources: 1024}\nnodes:\n  - {id: n1}\n"
        let config = try ConfigLoader.load(yaml: yaml, nodeID: nil, environment: [:], baseDirectory: ".")
        #expect(config.trustedProxies.ranges.map(\.description) == ["10.0.0.0/8", "0:0:0:0:0:0:0:1/128", "192.0.2.7/32"])
        #expect(config.decision.failedAttemptSources == 1024)
        let plain = try ConfigLoader.load(yaml: "nodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: ".")
        #expect(plain.trustedProxies.ranges.isEmpty)
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(yaml: "failed_attempts: {tracked_sources: 1}\nnodes:\n  - {id: n1}\n", nodeID: nil, environment: [:], baseDirectory: ".")
        }
    }
}
