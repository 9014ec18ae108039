import GatehouseClient
import GatehouseNode
import GatehouseWire
import NIOCore
import Testing

/// Clients that do not read, stall half-way through a command, or hoard connections, on
/// real sockets: the node closes them by its caps and deadlines and keeps serving others.
@Suite("Hostile connections", .timeLimit(.minutes(5)))
struct HostileConnectionTests {
    @Test func aPipelinerThatNeverReadsIsCutOffAtTheCapWhileOthersAreServed() async throws {
        let node = try await TestNode.start {
            // The cap at the high-water mark: the first time replies back up, the node closes.
            $0.connections.outputHighWaterBytes = 64 * 1024
            $0.connections.outputLimitBytes = 64 * 1024
        }
        let key = try await node.createKey()
        let other = try await node.client()
        var chunk = ByteBuffer()
        for _ in 0..<64 {
            var command = GatehouseClient.encode(GatehouseClient.verifyCommand(key.secret))
            chunk.writeBuffer(&command)
        }
        chunk.writeString(String(repeating: "PING\r\n", count: 64))
        let flooder = try await NonReadingConnection.open(node.endpoints.rpc)
        async let flooded = flooder.flood(chunk, maxBytes: 256 * 1024 * 1024)
        try await eventually("the non-reading client is closed", timeout: .seconds(60)) {
            try await other.ping()
            return !flooder.isOpen
        }
        _ = try await flooded
        // Latency is the bench's figure (bench/slow-reader.sh); on a shared test machine only
        // that the other client is served is asserted.
        try await other.ping()
        try await eventually("the close is counted") {
            try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="output_limit"}"#) == 1
        }
        try await other.close()
        try await node.stop()
    }

    @Test func threeHundredHalfSentCommandsAndRequestsAreClosedByTheirDeadline() async throws {
        let node = try await TestNode.start { $0.connections.frameTimeoutMs = 500 }
        var stalled: [RawConnection] = []
        for _ in 0..<300 {
            let resp = try await RawConnection.open(node.endpoints.rpc)
            try await resp.send("*2\r\n$6\r\nVERIFY\r\n$40\r\ngk_")
            stalled.append(resp)
            let http = try await RawConnection.open(node.endpoints.http)
            try await http.send("POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ke")
            stalled.append(http)
        }
        try await eventually("every stalled connection is closed", timeout: .seconds(20)) {
            stalled.allSatisfy { !$0.isOpen }
        }
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="frame_timeout"}"#) == 300)
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="http",reason="frame_timeout"}"#) == 300)
        let client = try await node.client()
        try await client.ping()
        try await client.close()
        try await node.stop()
    }

    @Test func idleUnauthenticatedSocketsDoNotTakeGatewaysSlots() async throws {
        let token = "gateway-token-abcdefghijklmnop"
        let node = try await TestNode.start {
            $0.gatewayTokens = [token]
            $0.maxConnections = 2
            $0.connections.maxUnauthenticated = 3
            // Long enough that the idle sockets are still there when the fourth arrives on a
            // loaded machine (seen: over 3 s between the first and the fourth under CI load,
            // and more than 8 s with two compilers beside the suite).
            $0.connections.authTimeoutMs = 15_000
        }
        let gateway = try await node.client(token: token)
        var idle: [RawConnection] = []
        // Connections are admitted on their own event loops, so which of the four is refused
        // is not fixed; exactly one is.
        for _ in 0..<4 { idle.append(try await RawConnection.open(node.endpoints.rpc)) }
        try await eventually("one connection over the unauthenticated cap is told", timeout: .seconds(14)) {
            idle.filter { $0.text.hasPrefix("-ERR max number of unauthenticated clients") }.count == 1
        }
        try await gateway.ping()
        try await eventually("idle sockets are closed by the authentication deadline", timeout: .seconds(30)) {
            idle.allSatisfy { !$0.isOpen }
        }
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="auth_timeout"}"#) == 3)
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="unauthenticated_limit"}"#) == 1)
        let second = try await node.client(token: token)
        try await second.ping()
        try await gateway.close()
        try await second.close()
        try await node.stop()
    }

    @Test func connectionsPerSourceAreCapped() async throws {
        let node = try await TestNode.start { $0.connections.maxPerSource = 2 }
        let first = try await node.client()
        let second = try await node.client()
        let third = try await RawConnection.open(node.endpoints.rpc)
        #expect(try await third.waitFor { $0.hasSuffix("\r\n") }.hasPrefix("-ERR max number of clients from this address"))
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="resp",reason="source_limit"}"#) == 1)
        try await first.ping()
        try await second.ping()
        try await first.close()
        try await second.close()
        try await node.stop()
    }

    @Test func aDeclaredOversizedBodyIsRefusedBeforeItIsSent() async throws {
        let node = try await TestNode.start()
        let connection = try await RawConnection.open(node.endpoints.http)
        try await connection.send("POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        let reply = try await connection.waitFor { $0.contains("\r\n\r\n") }
        #expect(reply.hasPrefix("HTTP/1.1 413"))
        try await connection.send(String(repeating: "x", count: 256 * 1024))
        #expect(try await connection.waitForClose())
        #expect(try await node.metric(#"gatehouse_connections_closed_total{listener="http",reason="request_too_large"}"#) == 1)
        try await node.stop()
    }
}
