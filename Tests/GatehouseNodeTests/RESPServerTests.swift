import GatehouseClient
import GatehouseCore
import GatehouseWire
import Testing

@Suite("RESP server, driven by GatehouseClient", .timeLimit(.minutes(5)))
struct RESPServerTests {
    @Test func verifyAnswersEveryFieldForAValidKey() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey([
            "owner": "acct_42", "scopes": ["read", "orders:*"], "meta": ["plan": "pro"],
            "limits": [["name": "minute", "limit": 10, "window_ms": 60_000]],
        ])
        let client = try await node.client()
        let answer = try await client.verify(key.secret, scopes: ["orders:write"])
        #expect(answer.code == .valid)
        #expect(answer.valid)
        #expect(answer.keyID == key.id)
        #expect(answer.owner == "acct_42")
        #expect(answer.scopes == ["read", "orders:*"])
        #expect(answer.meta == ["plan": "pro"])
        #expect(answer.limit == 10)
        #expect(answer.remaining == 9)
        #expect(answer.retryAfterMs == 0)
        let refused = try await client.verify(key.secret, scopes: ["admin"])
        #expect(refused.code == .insufficientScope)
        let unknown = try await client.verify("gk_" + String(repeating: "a", count: 36))
        #expect(unknown.code == .malformed)
        #expect(unknown.keyID == nil)
        try await client.close()
        try await node.stop()
    }

    @Test func resp3RepliesAreMapsAfterHello3() async throws {
        let node = try await TestNode.start(logLevel: .info)
        let key = try await node.createKey()
        let client = try await node.client(protocolVersion: 3)
        let reply = try await client.send(GatehouseClient.verifyCommand(key.secret))
        guard case .map(let pairs) = reply else {
            Issue.record("expected a RESP3 map, got \(reply)")
            return
        }
        #expect(pairs.map { $0.key.string ?? "" } == AnswerField.verify)
        #expect(reply.fields?["valid"] == .boolean(true))
        let plain = try await node.client()
        guard case .array(let flat) = try await plain.send(GatehouseClient.verifyCommand(key.secret)) else {
            Issue.record("expected a flat RESP2 array")
            return
        }
        #expect(flat.count == AnswerField.verify.count * 2)
        try await client.close()
        try await plain.close()
        try await node.stop()
    }

    @Test func pipelinedCommandsAnswerInOrder() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["limits": [["name": "burst", "limit": 500, "window_ms": 60_000]]])
        let client = try await node.client()
        var commands: [[String]] = []
        for index in 0..<1000 {
            commands.append(index % 2 == 0 ? GatehouseClient.verifyCommand(key.secret) : ["PING", "m\(index)"])
        }
        let replies = try await client.pipeline(commands)
        #expect(replies.count == 1000)
        var verified = 0
        for (index, reply) in replies.enumerated() {
            if index % 2 == 0 {
                let answer = try #require(VerifyAnswer(resp: reply))
                #expect(answer.code == .valid)
                #expect(answer.remaining == Int64(500 - 1 - verified))
                verified += 1
            } else {
                #expect(reply == .bulkString("m\(index)"))
            }
        }
        try await client.close()
        try await node.stop()
    }

    @Test func throttleCountsPerBucketAndWindow() async throws {
        let node = try await TestNode.start()
        let client = try await node.client()
        let first = try await client.throttle("ip:10.0.0.1", limit: 2, windowMs: 1000)
        let second = try await client.throttle("ip:10.0.0.1", limit: 2, windowMs: 1000)
        let third = try await client.throttle("ip:10.0.0.1", limit: 2, windowMs: 1000)
        let other = try await client.throttle("ip:10.0.0.2", limit: 2, windowMs: 1000)
        #expect(first.allowed && second.allowed)
        #expect(!third.allowed)
        #expect(third.retryAfterMs > 0)
        #expect(other.allowed)
        node.clock.advance(byMs: 2_500)
        #expect(try await client.throttle("ip:10.0.0.1", limit: 2, windowMs: 1000).allowed)
        let costly = try await client.throttle("route:/upload", limit: 10, windowMs: 1000, cost: 11)
        #expect(!costly.allowed)
        try await client.close()
        try await node.stop()
    }

    @Test func rateLimitAndRecoveryFollowTheInjectedClock() async throws {
        let node = try await TestNode.start()
        let key = try await node.createKey(["limits": [["name": "second", "limit": 3, "window_ms": 1000]]])
        let client = try await node.client()
        for _ in 0..<3 { #expect(try await client.verify(key.secret).code == .valid) }
        let limited = try await client.verify(key.secret)
        #expect(limited.code == .rateLimited)
        #expect((limited.retryAfterMs ?? 0) > 0)
        node.clock.advance(byMs: 2_001)
        #expect(try await client.verify(key.secret).code == .valid)
        try await client.close()
        try await node.stop()
    }

    @Test func gatewayTokensGateEveryCommandButAuth() async throws {
        let token = "gateway-token-abcdefghijklmnop"
        let node = try await TestNode.start { $0.gatewayTokens = [token] }
        let key = try await node.createKey()
        let anonymous = try await node.client()
        await #expect(throws: GatehouseClientError.self) { try await anonymous.verify(key.secret) }
        do {
            _ = try await anonymous.send(["PING"])
            Issue.record("PING before AUTH must be refused")
        } catch GatehouseClientError.server(let line) {
            #expect(line.hasPrefix("NOAUTH"))
        }
        do {
            _ = try await anonymous.send(["AUTH", "wrong-token-wrong-token"])
            Issue.record("a wrong token must be refused")
        } catch GatehouseClientError.server(let line) {
            #expect(line.hasPrefix("WRONGPASS"))
            #expect(!line.contains("wrong-token"))
        }
        #expect(try await anonymous.send(["AUTH", token]) == .simpleString("OK"))
        #expect(try await anonymous.verify(key.secret).code == .valid)
        let withHello = try await node.client()
        let hello = try await withHello.send(["HELLO", "3", "AUTH", "default", token])
        #expect(hello.fields?["proto"] == .integer(3))
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"noauth\"}") ?? 0 >= 2)
        #expect(try await node.metric("gatehouse_resp_errors_total{reason=\"wrong_password\"}") == 1)
        try await anonymous.close()
        try await withHello.close()
        try await node.stop()
    }

    @Test func connectCommandsOfCommonClientsAreHarmless() async throws {
        let node = try await TestNode.start()
        let client = try await node.client()
        #expect(try await client.send(["CLIENT", "SETNAME", "gateway-1"]) == .simpleString("OK"))
        #expect(try await client.send(["SELECT", "0"]) == .simpleString("OK"))
        #expect(try await client.send(["COMMAND", "DOCS"]) == .array([]))
        #expect(try await client.send(["CONFIG", "GET", "save"]) == .array([.bulkString("save"), .bulkString("")]))
        let info = try await client.send(["INFO"])
        #expect(info.string?.contains("node_id:n1") == true)
        await #expect(throws: GatehouseClientError.self) { try await client.send(["SELECT", "1"]) }
        #expect(try await client.send(["QUIT"]) == .simpleString("OK"))
        try await node.stop()
    }
}
