import Foundation
import GatehouseCore
import GatehouseNode
import Testing

/// Audit entries reach every node of a three-node cluster: pushed as they are written, and
/// brought to a node that was down by audit anti-entropy when its streams come back.
@Suite("Audit replication", .serialized, .timeLimit(.minutes(3)))
struct AuditReplicationTests {
    static func ids(on node: TestNode) async throws -> Set<String> {
        let reply = try await node.http("GET", "/v1/audit?limit=1000")
        return Set((reply.object["entries"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
    }

    @Test func everyWriteIsAuditedOnEveryNodeWithoutASecret() async throws {
        let nodes = try await ReplicationTests.cluster(3)
        let key = try await nodes[0].createKey(["owner": "acct_1"])
        try await eventually("the key reaches n2") { nodes[1].server.service.key(id: key.id) != nil }
        #expect(try await nodes[1].http("PATCH", "/v1/keys/\(key.id)", json: ["name": "renamed on n2"]).status == 200)
        try await eventually("the update reaches n3") { nodes[2].server.service.key(id: key.id)?.record.name == "renamed on n2" }
        let rotated = try await nodes[2].http("POST", "/v1/keys/\(key.id)/rotate")
        let newSecret = try #require(rotated.object["key"] as? String)
        var expected = Set<String>()
        try await eventually("all three entries are on every node", timeout: .seconds(30)) {
            var seen: [Set<String>] = []
            for node in nodes { seen.append(try await Self.ids(on: node)) }
            expected = seen[0]
            return seen.allSatisfy { $0 == seen[0] } && seen[0].count == 3
        }
        for node in nodes {
            let trail = try await node.http("GET", "/v1/audit?key_id=\(key.id)")
            #expect(!trail.text.contains(key.secret) && !trail.text.contains(newSecret) && !trail.text.contains(TestNode.adminToken))
            let nodesOfEntries = Set((trail.object["entries"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String })
            #expect(nodesOfEntries == ["n1", "n2", "n3"])
        }
        #expect(expected.count == 3)
        for node in nodes { try await node.stop() }
    }

    @Test func aNodeThatWasDownGetsTheEntriesItMissed() async throws {
        let directories = (0..<3).map { _ in TemporaryDirectory.make() }
        var nodes = try await ReplicationTests.cluster(3, directories: directories)
        _ = try await nodes[0].createKey(["owner": "before"])
        try await eventually("the first entry reaches n2") { try await Self.ids(on: nodes[1]).count == 1 }
        try await nodes[1].stop()
        for index in 0..<5 { _ = try await nodes[0].createKey(["owner": "during_\(index)"]) }
        // A bulk import while n2 is down: two entries (1,000 keys and 500), each key found by its search.
        let body = (0..<1_500).map { #"{"owner": "bulk_\#($0)"}"# }.joined(separator: "\n")
        let imported = try await nodes[0].http("POST", "/v1/keys/import", raw: Data(body.utf8))
        let lastImported = try #require((imported.object["results"] as? [[String: Any]])?.last?["id"] as? String)
        let restarted = try await TestNode.start(dataDirectory: directories[1], realClock: true) { config in
            config.nodeID = "n2"
            config.cluster = nodes[0].server.config.cluster.map { template in
                var cluster = template
                cluster.gossipAddress = nodes[1].server.config.cluster!.gossipAddress
                return cluster
            }
        }
        nodes[1] = restarted
        let all = try await Self.ids(on: nodes[0])
        #expect(all.count == 8)
        try await eventually("the restarted n2 holds every entry", timeout: .seconds(30)) { try await Self.ids(on: restarted) == all }
        // A search finds an import's entries for a key the node holds (by its creation time):
        // records and entries catch up separately.
        try await eventually("the restarted n2 holds the imported keys", timeout: .seconds(30)) {
            restarted.server.service.key(id: lastImported) != nil
        }
        let found = try await restarted.http("GET", "/v1/audit?key_id=\(lastImported)")
        #expect((found.object["entries"] as? [[String: Any]])?.first?["action"] as? String == "key.import")
        try await eventually("n3 holds every entry") { try await Self.ids(on: nodes[2]) == all }
        let digests = nodes.map { $0.server.service.audit.currentDigest().buckets }
        #expect(digests[0] == digests[1] && digests[1] == digests[2])
        for node in nodes { try await node.stop() }
    }
}
