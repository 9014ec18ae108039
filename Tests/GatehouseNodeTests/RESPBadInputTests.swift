import GatehouseClient
import GatehouseCore
import GatehouseWire
import Testing

/// Hostile and broken RESP input: each gets a clear error, is counted, and the node keeps
/// serving everyone else.
@Suite("RESP bad input", .timeLimit(.minutes(5)))
struct RESPBadInputTests {
    /// A well-behaved client on the side, to prove the node still serves after each abuse.
    private func assertStillServing(_ node: TestNode, key: String) async throws {
        let client = try await node.client()
        #expect(try await client.verify(key).code == .valid)
        try await client.close()
    }

    @Test func garbageBytesGetAProtocolErrorAndAClose() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        let connection = try await RawConnection.open(node.endpoints.rpc)
        try await connection.send([0x2A, 0x31, 0x0D, 0x0A, 0x3A, 0xFF, 0x00, 0x13, 0x37])
        let reply = try await connection.waitFor { $0.hasSuffix("\r\n") }
        #expect(reply.hasPrefix("-ERR Protocol error"))
        #expect(try await connection.waitForClose())
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"malformed\"}") == 1)
        try await assertStillServing(node, key: key.secret)
        try await node.stop()
    }

    @Test func oversizedBulkAndFrameAreRefusedBeforeBuffering() async throws {
        let node = try await TestNode.start { $0.respLimits.maxBulkBytes = 1024 }
        let key = try await node.createKey()
        let bulk = try await RawConnection.open(node.endpoints.rpc)
        try await bulk.send("*2\r\n$6\r\nVERIFY\r\n$100000000\r\n")
        #expect(try await bulk.waitFor { $0.hasSuffix("\r\n") }.hasPrefix("-TOOLARGE"))
        #expect(try await bulk.waitForClose())
        let arguments = try await RawConnection.open(node.endpoints.rpc)
        try await arguments.send("*100000\r\n")
        #expect(try await arguments.waitFor { $0.hasSuffix("\r\n") }.hasPrefix("-TOOLARGE"))
        let inline = try await RawConnection.open(node.endpoints.rpc)
        try await inline.send(String(repeating: "x", count: 70_000))
        #expect(try await inline.waitFor { $0.hasSuffix("\r\n") }.hasPrefix("-TOOLARGE"))
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"too_large\"}") == 3)
        try await assertStillServing(node, key: key.secret)
        try await node.stop()
    }

    @Test func wrongArityAndUnknownCommandsKeepTheConnection() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        let client = try await node.client()
        let replies = try await client.pipeline([
            ["VERIFY"], ["THROTTLE", "bucket"], ["VERIFY", key.secret, "SCOPE"], ["FLUSHALL"],
            ["VERIFY", key.secret, "COST", "lots"], ["VERIFY", key.secret],
        ])
        #expect(replies[0].errorLine?.hasPrefix("WRONGARGS") == true)
        #expect(replies[1].errorLine?.hasPrefix("WRONGARGS") == true)
        #expect(replies[2].errorLine?.hasPrefix("WRONGARGS") == true)
        #expect(replies[3].errorLine?.hasPrefix("ERR unknown command") == true)
        #expect(replies[4].errorLine?.hasPrefix("WRONGARGS") == true)
        #expect(VerifyAnswer(resp: replies[5])?.code == .valid)
        for reply in replies { #expect(reply.errorLine?.contains(key.secret) != true) }
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"wrong_arguments\"}") == 4)
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"unknown_command\"}") == 1)
        try await client.close()
        try await node.stop()
    }

    @Test func halfAFrameThenDisconnectIsCountedAndHarmless() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        for _ in 0..<20 {
            let connection = try await RawConnection.open(node.endpoints.rpc)
            try await connection.send("*2\r\n$6\r\nVERIFY\r\n$40\r\ngk_abc")
            await connection.close()
        }
        try await assertStillServing(node, key: key.secret)
        try await eventually("twenty truncated commands counted") {
            try await node.metric("gatehouse_resp_errors_total{reason=\"truncated\"}") ?? 0 >= 20
        }
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"truncated\"}") == 20)
        try await node.stop()
    }

    @Test func thousandsOfConnectionsOpeningAndClosingLeaveNothingBehind() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for round in 0..<250 {
                        let connection = try await RawConnection.open(node.endpoints.rpc)
                        if (worker + round) % 2 == 0 { try await connection.send("PING\r\n") }
                        await connection.close()
                    }
                }
            }
            try await group.waitForAll()
        }
        try await assertStillServing(node, key: key.secret)
        try await eventually("every connection closed on the node's side too") {
            try await node.metric("gatehouse_resp_connections_open") == 0
        }
        #expect(try await node.metric("gatehouse_resp_connections_total") ?? 0 >= 2001)
        try await node.stop()
    }

    @Test func connectionsOverTheLimitAreToldAndClosed() async throws {
        let node = try await TestNode.start { $0.maxConnections = 3 }
        var held: [GatehouseClient] = []
        for _ in 0..<3 { held.append(try await node.client()) }
        let extra = try await RawConnection.open(node.endpoints.rpc)
        #expect(try await extra.waitFor { $0.hasSuffix("\r\n") }.hasPrefix("-ERR max number of clients"))
        #expect(try await extra.waitForClose())
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"connection_limit\"}") == 1)
        for client in held { try await client.ping() }
        try await held[0].close()
        try await eventually("the node sees the closed connection go") {
            try await node.metric("gatehouse_resp_connections_open") == 2
        }
        let again = try await node.client()
        try await again.ping()
        for client in held.dropFirst() { try await client.close() }
        try await again.close()
        try await node.stop()
    }
}

extension RESPValue {
    var errorLine: String? {
        if case .error(let line) = self { return line }
        return nil
    }
}
