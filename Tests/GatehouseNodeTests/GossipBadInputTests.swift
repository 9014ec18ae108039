import Foundation
import GatehouseMembership
import GatehouseNode
import NIOCore
import NIOPosix
import Testing

/// Hostile bytes on the gossip port: dropped, counted, never a crash.
@Suite("Gossip bad input", .timeLimit(.minutes(5)))
struct GossipBadInputTests {
    @Test func garbageDatagramsAndFramesAreDroppedAndCounted() async throws {
        let gossipPort = try FreePort.find()
        let node = try await TestNode.start { config in
            var cluster = ClusterConfig(
                gossipAddress: HostPort(host: "127.0.0.1", port: gossipPort), seeds: [],
                gossipKeys: ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="])
            // The bad frames below must be what closes the connections, not the deadline.
            cluster.handshakeTimeoutMs = 60_000
            config.cluster = cluster
        }
        let sender = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: gossipPort)
        let packets: [[UInt8]] = [
            [],
            [1],
            [1] + [UInt8](repeating: 7, count: 40),
            [9] + [UInt8](repeating: 0, count: 60),
            [UInt8](repeating: 0xFF, count: 3_000),
        ]
        for packet in packets {
            try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet)))
        }
        // On the TCP port: a connection announcing a huge first frame, and one whose first
        // frame is not sealed with the keyring. Neither gets past the handshake.
        let huge = try await RawConnection.open(HostPort(host: "127.0.0.1", port: gossipPort))
        try await huge.send([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try await huge.waitForClose())
        let garbage = try await RawConnection.open(HostPort(host: "127.0.0.1", port: gossipPort))
        try await garbage.send([0, 0, 0, 4, 1, 2, 3, 4])
        #expect(try await garbage.waitForClose())

        // Generous: under a loaded CI machine the node may take seconds to get to the packets.
        try await eventually("five bad datagrams counted", timeout: .seconds(20)) {
            var dropped = 0.0
            for reason in ["oversized", "truncated", "not_authentic", "unknown_version"] {
                dropped += try await node.metric("gatehouse_gossip_dropped_packets_total{reason=\"\(reason)\"}") ?? 0
            }
            return dropped >= 5
        }
        #expect(try await node.metric("gatehouse_gossip_dropped_packets_total{reason=\"oversized\"}") ?? 0 >= 1)
        #expect(try await node.metric("gatehouse_data_streams_refused_total{reason=\"handshake_too_large\"}") == 1)
        #expect(try await node.metric("gatehouse_data_streams_refused_total{reason=\"not_authentic\"}") == 1)
        let members = try await node.http("GET", "/v1/cluster/members")
        #expect(members.status == 200)
        #expect((members.object["members"] as? [Any])?.count == 1)
        try await sender.close()
        try await node.stop()
    }

    /// A node on a gossip port with the given handshake deadline and unauthenticated cap.
    private func gossipNode(handshakeTimeoutMs: Int64, maxUnauthenticated: Int) async throws -> (TestNode, HostPort) {
        let gossipPort = try FreePort.find()
        let node = try await TestNode.start { config in
            var cluster = ClusterConfig(
                gossipAddress: HostPort(host: "127.0.0.1", port: gossipPort), seeds: [],
                gossipKeys: ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="])
            cluster.handshakeTimeoutMs = handshakeTimeoutMs
            cluster.maxUnauthenticatedPeerConnections = maxUnauthenticated
            config.cluster = cluster
        }
        return (node, HostPort(host: "127.0.0.1", port: gossipPort))
    }

    /// Only so many connections that have not authenticated exist at once; the rest are closed
    /// at once. (The deadline is far away here, so a slow test machine cannot blur the two.)
    @Test func unauthenticatedPeersAreCapped() async throws {
        let (node, address) = try await gossipNode(handshakeTimeoutMs: 120_000, maxUnauthenticated: 2)
        let silent = [try await RawConnection.open(address), try await RawConnection.open(address)]
        // Half a length prefix: still no frame, so still unauthenticated.
        try await silent[0].send([0, 0])
        try await eventually("both silent connections are admitted") {
            try await node.metric("gatehouse_data_streams_inbound") == 2
        }
        let third = try await RawConnection.open(address)
        #expect(try await third.waitForClose(seconds: 30))
        #expect(try await node.metric("gatehouse_data_streams_refused_total{reason=\"unauthenticated_cap\"}") == 1)
        for connection in silent { await connection.close() }
        try await eventually("the closed connections are no longer counted") {
            try await node.metric("gatehouse_data_streams_inbound") == 0
        }
        try await node.stop()
    }

    /// A peer that never completes its handshake is closed at the deadline.
    @Test func aSilentPeerIsClosedAtItsHandshakeDeadline() async throws {
        let (node, address) = try await gossipNode(handshakeTimeoutMs: 500, maxUnauthenticated: 64)
        let silent = try await RawConnection.open(address)
        #expect(try await silent.waitForClose(seconds: 60))
        #expect(try await node.metric("gatehouse_data_streams_refused_total{reason=\"handshake_timeout\"}") == 1)
        try await eventually("the closed connection is no longer counted") {
            try await node.metric("gatehouse_data_streams_inbound") == 0
        }
        try await node.stop()
    }
}
