import Foundation
import GatehouseClient
import Testing

/// The acceptance scenario of terminal revocation with real processes: three nodes, n3's
/// TCP to the others dropped by iptables (so no write reaches it), a revoke on n1, an edit of
/// the same key on n3 (a later version), then the heal: `REVOKED` on every node, for good.
@Suite(
    "Revocation across a real partition", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: LoopbackFirewall.isAvailable, "needs root and iptables (scripts/test installs iptables)"))
struct RevocationPartitionTests {
    static let hosts = ["127.0.10.1", "127.0.10.2", "127.0.10.3"]

    @Test func aRevokeOnN1SurvivesAnEditMadeOnTheCutOffN3() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        let cluster = try ClusterProcesses(executable: executable, count: 3, hosts: Self.hosts)
        defer { cluster.stopAll() }
        try await cluster.startAll()
        let key = try await cluster.createKey(on: "n1", ["name": "to be revoked"])
        let clients = [try await cluster.client("n1"), try await cluster.client("n2"), try await cluster.client("n3")]
        try await eventually("the key verifies on n3") { try await clients[2].verify(key.secret, cost: 0).code == .valid }

        let firewall = try LoopbackFirewall()
        defer { firewall.heal() }
        try await firewall.cutTCP(between: Self.hosts[2], and: Self.hosts[0])
        try await firewall.cutTCP(between: Self.hosts[2], and: Self.hosts[1])
        let revoked = try await HTTP.json(
            "POST", cluster.httpBase("n1") + "/v1/keys/\(key.id)/revoke", token: cluster.adminToken, body: nil, expecting: [200])
        #expect(revoked["revoked_at"] != nil)
        try await eventually("the revoke reaches n2") { try await clients[1].verify(key.secret, cost: 0).code == .revoked }
        // n3 has not heard of it, and takes an edit: a later version with no revoke in it.
        let edited = try await HTTP.json(
            "PATCH", cluster.httpBase("n3") + "/v1/keys/\(key.id)", token: cluster.adminToken, body: ["name": "edited on n3"],
            expecting: [200])
        #expect(edited["name"] as? String == "edited on n3")
        #expect(try await clients[2].verify(key.secret, cost: 0).code == .valid)

        firewall.heal()
        try await eventually("REVOKED on every node after the heal", timeout: .seconds(30)) {
            for client in clients where try await client.verify(key.secret, cost: 0).code != .revoked { return false }
            return true
        }
        // For good: once the replicas agree (anti-entropy compared them all), still revoked,
        // and the edit can no longer be made anywhere.
        try await eventually("the three replicas agree", timeout: .seconds(30)) {
            var digests = Set<String>()
            for node in cluster.nodes {
                let status = try await HTTP.json("GET", cluster.httpBase(node.id) + "/v1/cluster/status", token: cluster.adminToken, body: nil)
                digests.insert(status["key_digest"] as? String ?? "")
            }
            return digests.count == 1
        }
        for client in clients { #expect(try await client.verify(key.secret, cost: 0).code == .revoked) }
        _ = try await HTTP.json(
            "PATCH", cluster.httpBase("n3") + "/v1/keys/\(key.id)", token: cluster.adminToken, body: ["name": "again"], expecting: [409])
        for client in clients { try await client.close() }
    }
}
