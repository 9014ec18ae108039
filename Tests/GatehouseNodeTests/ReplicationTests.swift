import Foundation
import GatehouseClient
import GatehouseCore
import GatehouseMembership
import GatehouseNode
import Testing

/// Three clustered nodes in this process: key writes on any node hold on every node.
@Suite("Key replication", .serialized, .timeLimit(.minutes(3)))
struct ReplicationTests {
    static let gossipKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    /// Starts nodes n1…nN that seed each other on free gossip ports.
    static func cluster(
        _ count: Int, antiEntropyMs: Int64 = 500, directories: [String]? = nil, adjust: (inout ClusterConfig) -> Void = { _ in }
    ) async throws -> [TestNode] {
        let ports = try (0..<count).map { _ in try FreePort.find() }
        var nodes: [TestNode] = []
        for index in 0..<count {
            let node = try await TestNode.start(dataDirectory: directories?[index], realClock: true) { config in
                config.nodeID = "n\(index + 1)"
                var membership = MembershipSettings()
                membership.probeIntervalMs = 200
                membership.probeTimeoutMs = 100
                membership.gossipIntervalMs = 50
                membership.pushPullIntervalMs = 1_000
                var cluster = ClusterConfig(
                    gossipAddress: HostPort(host: "127.0.0.1", port: ports[index]),
                    seeds: ports.map { HostPort(host: "127.0.0.1", port: $0) }, gossipKeys: [gossipKey], membership: membership)
                cluster.antiEntropyIntervalMs = antiEntropyMs
                adjust(&cluster)
                config.cluster = cluster
            }
            nodes.append(node)
        }
        try await eventually("every node sees the other \(count - 1) alive", timeout: .seconds(30)) {
            for node in nodes where await node.server.gossip?.liveMembers().count != count - 1 { return false }
            return true
        }
        return nodes
    }

    @Test func aKeyCreatedOnOneNodeVerifiesOnAnotherAndARevocationHoldsEverywhere() async throws {
        let nodes = try await Self.cluster(3)
        let key = try await nodes[0].createKey(["owner": "acct_1"])
        let third = try await nodes[2].client()
        // How fast is for bench/cluster-bench (write→all); here only that it arrives.
        try await eventually("the key made on n1 verifies on n3") { try await third.verify(key.secret, cost: 0).code == .valid }

        let revoked = try await nodes[1].http("POST", "/v1/keys/\(key.id)/revoke")
        #expect(revoked.status == 200)
        let first = try await nodes[0].client()
        try await eventually("the revoke made on n2 holds on n1 and n3") {
            let one = try await first.verify(key.secret, cost: 0).code
            let three = try await third.verify(key.secret, cost: 0).code
            return one == .revoked && three == .revoked
        }
        #expect(try await nodes[2].metric("gatehouse_replication_writes_applied_total") ?? 0 >= 2)
        try await first.close()
        try await third.close()
        for node in nodes { try await node.stop() }
    }

    /// Imported keys replicate with their forms: a node that never imported anything learns
    /// to hash presented keys the extra ways from the records it is sent.
    @Test func importedKeysVerifyOnEveryNode() async throws {
        let nodes = try await Self.cluster(3)
        let foreign = "sk_live_51HxQv2eZvKYlo2C0aBcDeFgHiJk"
        let hashed = "legacy-7f3d9c2b1a0e4f5d6c7b8a9"
        var plain = hashed
        let digest = plain.withUTF8 { ImportedKeyFormat.sha256(UnsafeRawBufferPointer($0)) }.hex
        let body = #"{"owner": "acct_1", "key": "\#(foreign)"}"# + "\n" + #"{"owner": "acct_2", "sha256": "\#(digest)"}"#
        let imported = try await nodes[0].http("POST", "/v1/keys/import", raw: Data(body.utf8))
        #expect(imported.object["imported"] as? Int == 2, "\(imported.text)")
        for node in nodes.dropFirst() {
            let client = try await node.client()
            try await eventually("both imported keys verify on \(node.server.config.nodeID)") {
                let first = try await client.verify(foreign, cost: 0)
                let second = try await client.verify(hashed, cost: 0)
                return first.code == .valid && first.owner == "acct_1" && second.code == .valid && second.owner == "acct_2"
            }
            try await client.close()
        }
        for node in nodes { try await node.stop() }
    }

    @Test func aNodeThatWasDownCatchesUpByAntiEntropy() async throws {
        let directories = (0..<3).map { _ in TemporaryDirectory.make() }
        var nodes = try await Self.cluster(3, directories: directories)
        let before = try await nodes[0].createKey(["name": "before"])
        try await eventually("the first key reaches n2") { nodes[1].server.service.key(id: before.id) != nil }
        try await nodes[1].stop()
        let during = try await nodes[0].createKey(["name": "during"])
        _ = try await nodes[2].http("PATCH", "/v1/keys/\(before.id)", json: ["name": "changed while n2 was down"])
        // n2 comes back on its data directory and must catch up by itself.
        let restarted = try await TestNode.start(dataDirectory: directories[1], realClock: true) { config in
            config.nodeID = "n2"
            config.cluster = nodes[0].server.config.cluster.map { template in
                var cluster = template
                cluster.gossipAddress = nodes[1].server.config.cluster!.gossipAddress
                return cluster
            }
        }
        nodes[1] = restarted
        try await eventually("the restarted n2 catches up both writes it missed", timeout: .seconds(30)) {
            restarted.server.service.key(id: during.id) != nil
                && restarted.server.service.key(id: before.id)?.record.name == "changed while n2 was down"
        }
        let digests = nodes.map { $0.server.service.digest() }
        #expect(digests[0] == digests[1] && digests[1] == digests[2])
        var fingerprints: [String] = []
        for node in nodes {
            let status = try await node.http("GET", "/v1/cluster/status")
            #expect(status.object["key_count"] as? Int == 2)
            #expect(status.object["clustered"] as? Bool == true)
            fingerprints.append(status.object["key_digest"] as? String ?? "")
        }
        #expect(Set(fingerprints).count == 1)
        for node in nodes { try await node.stop() }
    }

    /// Driven past the limit from every node: the cluster admits at most the limit, and once
    /// the counts are shared every node reports nothing left (asked at cost 0, which spends
    /// nothing, so the asking cannot be what exhausts a node).
    @Test func aRateLimitHoldsForTheWholeCluster() async throws {
        let nodes = try await Self.cluster(3)
        let key = try await nodes[0].createKey(["limits": [["name": "minute", "limit": 30, "window_ms": 60_000]]])
        var clients: [GatehouseClient] = []
        for node in nodes { clients.append(try await node.client()) }
        try await eventually("the key reaches every node") {
            for node in nodes where node.server.service.key(id: key.id) == nil { return false }
            return true
        }
        var admitted = 0
        var admittedPerNode: [Int] = [0, 0, 0]
        // Two rounds of 25 attempts per node (150 against a limit of 30): each node admits
        // within its share of the limit and asks the others for theirs, so the cluster admits
        // at most the limit (the default mode allows one request per node more for a limit this
        // small: max(1.02 × 30, 30 + 3)), and most of it.
        for _ in 0..<2 {
            for (index, client) in clients.enumerated() {
                for _ in 0..<25 where try await client.verify(key.secret).code == .valid { admittedPerNode[index] += 1 }
            }
        }
        admitted = admittedPerNode.reduce(0, +)
        #expect(admitted <= 33, "admitted \(admitted) (\(admittedPerNode)) against a limit of 30 (the default mode allows up to 33)")
        #expect(admitted >= 25, "admitted only \(admitted) (\(admittedPerNode))")
        try await eventually("every node counts every admission") {
            for client in clients where try await client.verify(key.secret, cost: 0).remaining != Int64(max(0, 30 - admitted)) { return false }
            return true
        }
        for client in clients { #expect(try await client.verify(key.secret).code == .rateLimited) }
        let throttled = try await clients[0].throttle("ip:203.0.113.1", limit: 4, windowMs: 60_000, cost: 4)
        #expect(throttled.allowed)
        try await eventually("n3 counts n1's throttle hits") {
            try await clients[2].throttle("ip:203.0.113.1", limit: 4, windowMs: 60_000, cost: 0).remaining == 0
        }
        #expect(!(try await clients[2].throttle("ip:203.0.113.1", limit: 4, windowMs: 60_000, cost: 1).allowed))
        var syncBytes = 0.0
        for node in nodes { syncBytes += try await node.metric("gatehouse_counters_sync_bytes_total") ?? 0 }
        #expect(syncBytes > 0)
        for client in clients { try await client.close() }
        for node in nodes { try await node.stop() }
    }

    /// A node cut off takes writes; after the heal everyone agrees: on keys made on either
    /// side, on an edit conflict (the later edit wins), and on a revoke made on the majority
    /// side that a later edit on the cut-off node must not undo.
    @Test func aPartitionedNodeTakesWritesAndEveryoneAgreesAfterHealing() async throws {
        let nodes = try await Self.cluster(3)
        let shared = try await nodes[0].createKey(["name": "shared"])
        let doomed = try await nodes[0].createKey(["name": "to be revoked"])
        try await eventually("both keys reach n3") {
            nodes[2].server.service.key(id: shared.id) != nil && nodes[2].server.service.key(id: doomed.id) != nil
        }
        nodes[2].server.gossip?.setIsolated(true)
        let left = try await nodes[0].createKey(["name": "made on the majority side"])
        let right = try await nodes[2].createKey(["name": "made on the isolated node"])
        #expect(try await nodes[1].http("PATCH", "/v1/keys/\(shared.id)", json: ["name": "majority edit"]).status == 200)
        #expect(try await nodes[1].http("POST", "/v1/keys/\(doomed.id)/revoke").status == 200)
        try await eventually("n1 holds the majority's edit") {
            nodes[0].server.service.key(id: shared.id)?.record.name == "majority edit"
        }
        // The isolated node writes after the majority did: its versions are the later ones.
        #expect(try await nodes[2].http("PATCH", "/v1/keys/\(shared.id)", json: ["name": "isolated edit, later"]).status == 200)
        #expect(try await nodes[2].http("PATCH", "/v1/keys/\(doomed.id)", json: ["name": "edited after the revoke"]).status == 200)
        #expect(nodes[0].server.service.key(id: right.id) == nil)
        #expect(nodes[2].server.service.key(id: left.id) == nil)
        #expect(nodes[2].server.service.key(id: doomed.id)?.record.isRevoked == false)
        nodes[2].server.gossip?.setIsolated(false)
        try await eventually("the three replicas agree after the heal", timeout: .seconds(30)) {
            let digests = nodes.map { $0.server.service.digest() }
            return digests[0] == digests[1] && digests[1] == digests[2]
        }
        for node in nodes {
            #expect(node.server.service.key(id: left.id) != nil)
            #expect(node.server.service.key(id: right.id) != nil)
            #expect(node.server.service.key(id: shared.id)?.record.name == "isolated edit, later")
            #expect(node.server.service.key(id: doomed.id)?.record.isRevoked == true)
            let client = try await node.client()
            #expect(try await client.verify(doomed.secret, cost: 0).code == .revoked)
            try await client.close()
        }
        for node in nodes { try await node.stop() }
    }

    /// Past the direct limit, counters travel by fan-out and relay and still add up.
    @Test func countersReachEveryNodeByFanOutAndRelay() async throws {
        let nodes = try await Self.cluster(5) { cluster in
            cluster.counterDirectLimit = 1
            cluster.membership.gossipFanout = 2
        }
        let key = try await nodes[0].createKey(["limits": [["name": "minute", "limit": 1000, "window_ms": 60_000]]])
        try await eventually("the key reaches every node") {
            for node in nodes where node.server.service.key(id: key.id) == nil { return false }
            return true
        }
        // 100 admissions on n1 only; every other node must come to know them.
        let client = try await nodes[0].client()
        for _ in 0..<100 { #expect(try await client.verify(key.secret).code == .valid) }
        try await client.close()
        for node in nodes.dropFirst() {
            let other = try await node.client()
            try await eventually("\(node.server.config.nodeID) counts n1's 100 admissions") {
                // A cost-0 verify reports what is left without spending anything.
                (try await other.verify(key.secret, cost: 0).remaining ?? 0) <= 900
            }
            try await other.close()
        }
        for node in nodes { try await node.stop() }
    }
}
