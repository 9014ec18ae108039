import Foundation
import GatehouseClient
import GatehouseNode
import Testing

@Suite("Durability", .timeLimit(.minutes(5)))
struct DurabilityTests {
    @Test func keysSurviveARestartOfTheNode() async throws {
        let directory = TemporaryDirectory.make()
        let first = try await TestNode.start(dataDirectory: directory)
        let kept = try await first.createKey(["name": "kept", "owner": "acct_1", "credits": 5])
        let changed = try await first.createKey(["name": "before"])
        let revoked = try await first.createKey()
        _ = try await first.http("PATCH", "/v1/keys/\(changed.id)", json: ["name": "after", "scopes": ["read"]])
        _ = try await first.http("POST", "/v1/keys/\(revoked.id)/revoke")
        let client = try await first.client()
        #expect(try await client.verify(kept.secret, cost: 2).creditsRemaining == 3)
        try await client.close()
        try await first.stop()

        let second = try await TestNode.start(dataDirectory: directory)
        let again = try await second.client()
        let keptAnswer = try await again.verify(kept.secret)
        #expect(keptAnswer.code == .valid)
        #expect(keptAnswer.creditsRemaining == 2)
        #expect(try await again.verify(revoked.secret).code == .revoked)
        #expect(try await again.verify(changed.secret, scopes: ["read"]).code == .valid)
        let shown = try await second.http("GET", "/v1/keys/\(changed.id)")
        #expect(shown.object["name"] as? String == "after")
        #expect(shown.object["last_used_at"] is String)
        try await again.close()
        try await second.stop()
    }

    /// The real thing: a `gatehouse serve` process killed with SIGKILL right after writes.
    @Test func writesSurviveKillDashNine() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        let directory = TemporaryDirectory.make()
        let token = "kill-test-admin-token-0123456789"
        var process = try await ServeProcess.start(executable: executable, dataDirectory: directory, adminToken: token)
        let node = process.endpoints
        let base = "http://\(node.http)"
        let created = try await HTTP.json("POST", base + "/v1/keys", token: token, body: ["name": "durable"])
        let id = try #require(created["id"] as? String)
        let secret = try #require(created["key"] as? String)
        let other = try await HTTP.json("POST", base + "/v1/keys", token: token, body: ["name": "to-revoke"])
        let otherID = try #require(other["id"] as? String)
        let otherSecret = try #require(other["key"] as? String)
        _ = try await HTTP.json("PATCH", base + "/v1/keys/\(id)", token: token, body: ["name": "renamed"])
        _ = try await HTTP.json("POST", base + "/v1/keys/\(otherID)/revoke", token: token, body: nil)
        process.kill9()

        process = try await ServeProcess.start(executable: executable, dataDirectory: directory, adminToken: token)
        defer { process.kill9() }
        let restarted = process.endpoints
        let client = try await GatehouseClient.connect(host: restarted.rpc.host, port: restarted.rpc.port)
        #expect(try await client.verify(secret).code == .valid)
        #expect(try await client.verify(otherSecret).code == .revoked)
        try await client.close()
        let shown = try await HTTP.json("GET", "http://\(restarted.http)/v1/keys/\(id)", token: token, body: nil)
        #expect(shown["name"] as? String == "renamed")
    }

    /// SIGTERM stops a node gracefully: exit status 0, and usage coalesced in memory is on disk.
    @Test func sigtermShutsDownGracefullyAndKeepsUsage() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        let directory = TemporaryDirectory.make()
        let token = "term-test-admin-token-0123456789"
        var process = try await ServeProcess.start(executable: executable, dataDirectory: directory, adminToken: token)
        let base = "http://\(process.endpoints.http)"
        let created = try await HTTP.json("POST", base + "/v1/keys", token: token, body: ["credits": 10])
        let secret = try #require(created["key"] as? String)
        let client = try await GatehouseClient.connect(host: "127.0.0.1", port: process.endpoints.rpc.port)
        #expect(try await client.verify(secret, cost: 4).creditsRemaining == 6)
        try await client.close()
        kill(process.process.processIdentifier, SIGTERM)
        #expect(process.process.waitUntilExit() == .exit(0), "a graceful stop exits with 0")

        process = try await ServeProcess.start(executable: executable, dataDirectory: directory, adminToken: token)
        defer { process.kill9() }
        let again = try await GatehouseClient.connect(host: "127.0.0.1", port: process.endpoints.rpc.port)
        #expect(try await again.verify(secret).creditsRemaining == 5)
        try await again.close()
    }
}
