import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

@Suite("Gossip codec and keyring")
struct GossipCodecTests {
    static let address = MemberAddress(host: "127.0.0.1", port: 7946)
    static let gossip: [Gossip] = [
        .alive(NodeID("n1"), incarnation: 3, address: address),
        .suspect(NodeID("n2"), incarnation: 9, suspector: NodeID("n3")),
        .dead(NodeID("n4"), incarnation: UInt64.max, declarer: NodeID("n4")),
        .payload(PayloadID(origin: NodeID("n5"), sequence: 77), [0, 1, 2, 255]),
    ]
    static let messages: [MembershipMessage] = [
        .ping(sequence: 1, target: NodeID("n2"), source: NodeID("n1"), sourceAddress: address, gossip: gossip),
        .ping(sequence: UInt32.max, target: NodeID("ünï"), source: NodeID("n1"), sourceAddress: MemberAddress(host: "::1", port: 65535), gossip: []),
        .pingRequest(sequence: 5, target: NodeID("n2"), targetAddress: address, source: NodeID("n1"), sourceAddress: address, gossip: gossip),
        .ack(sequence: 6, source: NodeID("n2"), sentAtMs: 1_800_000_000_123, gossip: gossip),
        .nack(sequence: 7, source: NodeID("n3")),
        .gossip(source: NodeID("n9"), gossip: gossip),
    ]

    @Test(arguments: messages)
    func everyMessageRoundTripsAndMatchesThePlannedSize(message: MembershipMessage) throws {
        let bytes = GossipCodec.encode(message)
        #expect(bytes.readableBytes == MembershipWireSize.message(message))
        #expect(try GossipCodec.decode(bytes) == message)
    }

    @Test func snapshotsRoundTrip() throws {
        let members = (0..<50).map { index in
            Member(id: NodeID("n\(index)"), address: MemberAddress(host: "10.0.0.\(index)", port: 7946 + index),
                   status: MemberStatus.allCases[index % 4], incarnation: UInt64(index * 3), lastChangeMs: 0)
        }
        let decoded = try GossipCodec.decodeSnapshot(GossipCodec.encodeSnapshot(members, isResponse: true))
        #expect(decoded.isResponse)
        #expect(decoded.members == members)
    }

    @Test func randomAndMutatedBytesNeverCrashTheDecoder() {
        var random = SeededGenerator(seed: 1234)
        let valid = Self.messages.map { Array(GossipCodec.encode($0).readableBytesView) }
        var rejected = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(random.next() % 200)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = random.mutated(valid[Int(random.next() % UInt64(valid.count))])
            }
            do {
                _ = try GossipCodec.decode(ByteBuffer(bytes: bytes))
            } catch {
                rejected += 1
            }
            _ = try? GossipCodec.decodeSnapshot(ByteBuffer(bytes: bytes))
        }
        #expect(rejected > 10_000)
    }

    @Test func everyTruncationIsRejected() {
        for message in Self.messages {
            let bytes = Array(GossipCodec.encode(message).readableBytesView)
            for length in 0..<bytes.count {
                #expect(throws: GossipDecodeError.self) { try GossipCodec.decode(ByteBuffer(bytes: bytes[..<length])) }
            }
        }
    }

    static let keyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    static let keyB = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI="

    @Test func sealedPacketsOpenWithAnyKeyOnTheRing() throws {
        var random = SeededGenerator(seed: 5)
        let old = try ClusterKeyring(base64Keys: [Self.keyA], clusterName: "prod")
        let rotating = try ClusterKeyring(base64Keys: [Self.keyB, Self.keyA], clusterName: "prod")
        let sealed = old.seal([1, 2, 3], using: &random)
        #expect(sealed.count == 3 + ClusterKeyring.overhead)
        #expect(try rotating.open(sealed) == [1, 2, 3])
        let fromNewPrimary = rotating.seal([4, 5], using: &random)
        #expect(throws: ClusterKeyring.OpenError.notAuthentic) { try old.open(fromNewPrimary) }
    }

    @Test func wrongKeyWrongClusterTamperingAndTruncationAreRejected() throws {
        var random = SeededGenerator(seed: 6)
        let ring = try ClusterKeyring(base64Keys: [Self.keyA], clusterName: "prod")
        let sealed = ring.seal(Array(GossipCodec.encode(Self.messages[0]).readableBytesView), using: &random)
        let otherKey = try ClusterKeyring(base64Keys: [Self.keyB], clusterName: "prod")
        let otherCluster = try ClusterKeyring(base64Keys: [Self.keyA], clusterName: "staging")
        #expect(throws: ClusterKeyring.OpenError.notAuthentic) { try otherKey.open(sealed) }
        #expect(throws: ClusterKeyring.OpenError.notAuthentic) { try otherCluster.open(sealed) }
        for position in stride(from: 1, to: sealed.count, by: 7) {
            var tampered = sealed
            tampered[position] ^= 0x01
            #expect(throws: ClusterKeyring.OpenError.self) { try ring.open(tampered) }
        }
        for length in [0, 10, 28, sealed.count - 1] {
            #expect(throws: ClusterKeyring.OpenError.self) { try ring.open(sealed[..<length]) }
        }
        var wrongVersion = sealed
        wrongVersion[0] = 2
        #expect(throws: ClusterKeyring.OpenError.unknownVersion) { try ring.open(wrongVersion) }
    }

    @Test func badKeysAreRefusedByIndex() {
        #expect(throws: ClusterKeyring.InvalidKey(index: 1)) {
            try ClusterKeyring(base64Keys: [Self.keyA, "c2hvcnQ="], clusterName: "prod")
        }
        #expect(throws: ClusterKeyring.InvalidKey.self) { try ClusterKeyring(base64Keys: [], clusterName: "prod") }
    }
}
