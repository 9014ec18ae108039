import Foundation
import Testing

@Suite("Logs", .timeLimit(.minutes(5)))
struct LoggingTests {
    @Test func noSecretEverReachesTheLogs() async throws {
        let gateway = "gateway-secret-token-0123456789"
        let node = try await TestNode.start { $0.gatewayTokens = [gateway] }
        let key = try await node.createKey(["name": "logged"])
        let rotated = try await node.http("POST", "/v1/keys/\(key.id)/rotate", json: ["grace_ms": 1000])
        let newSecret = try #require(rotated.object["key"] as? String)
        let client = try await node.client(token: gateway)
        _ = try await client.send(["VERIFY", key.secret, "RID", "req-123"])
        _ = try await client.send(["VERIFY", newSecret, "SCOPE", "x"])
        _ = try await node.http("GET", "/v1/keys", token: "wrong-admin-token-xyz-0123")
        _ = try await node.http("POST", "/v1/verify", json: ["key": key.secret], token: gateway)
        try await client.close()
        try await node.stop()
        let text = node.logs.text
        #expect(!text.isEmpty)
        for secret in [key.secret, newSecret, TestNode.adminToken, gateway, TestNode.pepper, "wrong-admin-token-xyz-0123"] {
            #expect(!text.contains(secret), "a secret appeared in the logs")
        }
        for line in node.logs.all {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not one JSON object: \(line)")
        }
    }

    @Test func theRequestIDIsCarriedIntoLogsAndBack() async throws {
        let node = try await TestNode.start()
        let reply = try await node.http("POST", "/v1/keys", json: ["name": "traced"], headers: ["X-Request-Id": "trace-abc-123"])
        #expect(reply.header("X-Request-Id") == "trace-abc-123")
        let key = try #require(reply.object["key"] as? String)
        let client = try await node.client()
        _ = try await client.send(["VERIFY", key, "RID", "rid-xyz-789"])
        try await client.close()
        try await node.stop()
        #expect(node.logs.all.contains { $0.contains("\"request_id\":\"trace-abc-123\"") && $0.contains("key created") })
        #expect(node.logs.all.contains { $0.contains("rid-xyz-789") })
    }
}
