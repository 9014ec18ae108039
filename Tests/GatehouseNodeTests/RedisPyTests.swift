import Foundation
import Testing

/// A standard client library, redis-py, in both protocol versions and with pipelining.
@Suite("redis-py", .timeLimit(.minutes(5)))
struct RedisPyTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/redis_py_check.py").path

    private func python() async throws -> String {
        let python = try #require(Subprocess.locate("python3"), "python3 is missing")
        let probe = try await Subprocess.run(python, ["-c", "import redis"])
        try #require(probe.status == 0, "redis-py is missing: pip install redis (scripts/test does)")
        return python
    }

    @Test func redisPySpeaksToGatehouse() async throws {
        let python = try await python()
        let node = try await TestNode.start()
        let key = try await node.createKey(["scopes": ["read"]])
        let result = try await Subprocess.run(python, [Self.script, String(node.endpoints.rpc.port), key.secret])
        #expect(result.status == 0, "\(result.output)\(result.error)")
        #expect(result.output.contains("redis-py RESP2: ok"))
        #expect(result.output.contains("redis-py RESP3: ok"))
        try await node.stop()
    }

    @Test func redisPyAuthenticatesWithAGatewayToken() async throws {
        let python = try await python()
        let token = "py-gateway-token-0123456789"
        let node = try await TestNode.start { $0.gatewayTokens = [token] }
        let key = try await node.createKey(["scopes": ["read"]])
        let result = try await Subprocess.run(python, [Self.script, String(node.endpoints.rpc.port), key.secret, token])
        #expect(result.status == 0, "\(result.output)\(result.error)")
        #expect(result.output.contains("redis-py RESP3: ok"))
        try await node.stop()
    }
}
