import Foundation
import Testing

/// A real Redis client, `redis-cli`, is a Gatehouse client.
@Suite("redis-cli", .timeLimit(.minutes(5)))
struct RedisCLITests {
    private func redisCLI() throws -> String {
        try #require(Subprocess.locate("redis-cli"), "redis-cli is missing: install redis-tools (scripts/test does)")
    }

    @Test func redisCLIVerifiesAndPings() async throws {
        let cli = try redisCLI()
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_cli", "scopes": ["read"]])
        let port = String(node.endpoints.rpc.port)
        let ping = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "PING"])
        #expect(ping.output.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG")
        let verify = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "VERIFY", key.secret, "SCOPE", "read"])
        let lines = verify.output.split(separator: "\n").map(String.init)
        #expect(lines.prefix(4) == ["valid", "1", "code", "VALID"])
        #expect(lines.contains("acct_cli"))
        let resp3 = try await Subprocess.run(cli, ["-3", "-h", "127.0.0.1", "-p", port, "VERIFY", key.secret, "SCOPE", "write"])
        #expect(resp3.output.contains("INSUFFICIENT_SCOPE"))
        let wrong = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "VERIFY"])
        #expect(wrong.output.contains("WRONGARGS"))
        try await node.stop()
    }

    @Test func redisCLIGetsOnlyTheFieldsAskedFor() async throws {
        let cli = try redisCLI()
        let node = try await TestNode.start()
        let key = try await node.createKey(["owner": "acct_cli", "scopes": ["read"], "limits": [["name": "m", "limit": 5, "window_ms": 60_000]]])
        let port = String(node.endpoints.rpc.port)
        for expectedRemaining in (0..<5).reversed() {
            let verdict = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "VERIFY", key.secret, "SCOPE", "read", "FIELDS", "remaining,code"])
            #expect(verdict.output.split(separator: "\n").map(String.init) == ["code", "VALID", "remaining", "\(expectedRemaining)"])
        }
        let refused = try await Subprocess.run(cli, ["-3", "-h", "127.0.0.1", "-p", port, "VERIFY", key.secret, "FIELDS", "code,key_id"])
        #expect(refused.output.contains("RATE_LIMITED") && refused.output.contains("key_"))
        #expect(!refused.output.contains("acct_cli"), "owner was not asked for")
        let unknown = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "VERIFY", key.secret, "FIELDS", "code,secret"])
        #expect(unknown.output.contains("WRONGARGS"))
        try await node.stop()
    }

    @Test func redisCLIShowsTheGatehouseProtocolInHello() async throws {
        let cli = try redisCLI()
        let node = try await TestNode.start()
        let port = String(node.endpoints.rpc.port)
        for dialect in ["2", "3"] {
            let hello = try await Subprocess.run(cli, ["-\(dialect)", "-h", "127.0.0.1", "-p", port, "HELLO", dialect])
            // Piped, redis-cli writes a RESP2 array one element a line and a RESP3 map one
            // `key value` pair a line.
            let lines = hello.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let pairs = zip(lines, lines.dropFirst()).map { "\($0) \($1)" }
            #expect((lines + pairs).contains("gatehouse_protocol 1"), "HELLO \(dialect): \(hello.output)")
        }
        try await node.stop()
    }

    @Test func redisCLIAuthenticatesWithAGatewayToken() async throws {
        let cli = try redisCLI()
        let token = "cli-gateway-token-0123456789"
        let node = try await TestNode.start { $0.gatewayTokens = [token] }
        let key = try await node.createKey()
        let port = String(node.endpoints.rpc.port)
        let refused = try await Subprocess.run(cli, ["-h", "127.0.0.1", "-p", port, "VERIFY", key.secret])
        #expect(refused.output.contains("NOAUTH"))
        let allowed = try await Subprocess.run(cli, ["--no-auth-warning", "-a", token, "-h", "127.0.0.1", "-p", port, "VERIFY", key.secret])
        #expect(allowed.output.contains("VALID"))
        try await node.stop()
    }
}
