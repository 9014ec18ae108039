import Foundation
import GatehouseClient
import Testing

/// Real processes on loopback: membership over encrypted UDP and TCP, end to end.
@Suite("Cluster of real processes", .serialized)
struct ClusterProcessTests {
    private func cluster() throws -> ClusterProcesses {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        return try ClusterProcesses(executable: executable, count: 3)
    }

    @Test func threeNodesReachAFullViewAndSeeACrashAndARestart() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        for node in ["n1", "n2", "n3"] { try cluster.start(node) }
        let full = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n2", "n3"]) { view in
            ["n1", "n2", "n3"].allSatisfy { view[$0]?.state == "alive" }
        }
        #expect(full, "the three nodes did not all see each other alive")
        let before = try await cluster.view(of: "n1")["n2"]?.incarnation ?? -1

        cluster.kill9("n2")
        let dead = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n3"]) { $0["n2"]?.state == "dead" }
        #expect(dead, "n2's crash was not detected")

        try cluster.start("n2")
        let back = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n3"]) { $0["n2"]?.state == "alive" }
        #expect(back, "the restarted n2 did not come back alive")
        let after = try await cluster.view(of: "n1")["n2"]?.incarnation ?? -1
        #expect(after > before)
    }

    @Test func aNodeWithTheWrongKeyringCannotJoin() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        try cluster.writeConfig(name: "impostor.yaml", keys: [ClusterProcesses.keyB])
        try cluster.start("n1")
        try cluster.start("n2")
        let pair = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n2"]) { $0["n1"]?.state == "alive" && $0["n2"]?.state == "alive" }
        #expect(pair)
        try cluster.start("n3", config: "impostor.yaml")
        try await Task.sleep(for: .seconds(3))
        #expect(try await cluster.view(of: "n1")["n3"] == nil)
        #expect(try await cluster.view(of: "n2")["n3"] == nil)
        let impostorView = try await cluster.view(of: "n3")
        #expect(impostorView["n1"] == nil && impostorView["n2"] == nil)
        let metrics = try await HTTP.text("http://127.0.0.1:\(cluster.nodes[0].http)/metrics")
        // The impostor's join (a push-pull over TCP) fails at its first, wrongly sealed frame.
        let refused = metrics.split(separator: "\n").first { $0.hasPrefix("gatehouse_data_streams_refused_total{reason=\"not_authentic\"}") }
        #expect(refused.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0 > 0)
    }

    /// kill -9 during writes: the restarted node catches up the keys it missed and gets its
    /// own rate-limit counts back from its peers.
    @Test func aNodeKilledDuringWritesCatchesUpKeysAndCounters() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        for node in ["n1", "n2", "n3"] { try cluster.start(node) }
        let full = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n2", "n3"]) { view in
            ["n1", "n2", "n3"].allSatisfy { view[$0]?.state == "alive" }
        }
        #expect(full)
        let n1 = "http://127.0.0.1:\(cluster.nodes[0].http)"
        let limited = try await HTTP.json("POST", n1 + "/v1/keys", token: cluster.adminToken, body: [
            "name": "limited", "limits": [["name": "minute", "limit": 20, "window_ms": 60_000]],
        ])
        let secret = try #require(limited["key"] as? String)
        let n2Port = cluster.nodes[1].rpc
        var client = try await GatehouseClient.connect(host: "127.0.0.1", port: n2Port)
        let deadline = Date().addingTimeInterval(10)
        while try await client.verify(secret, cost: 0).code != .valid && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        for _ in 0..<8 { #expect(try await client.verify(secret).code == .valid) }
        try await client.close()
        try await Task.sleep(for: .milliseconds(300))

        var created: [String] = []
        for index in 0..<10 {
            if index == 4 { cluster.kill9("n2") }
            let key = try await HTTP.json("POST", n1 + "/v1/keys", token: cluster.adminToken, body: ["name": "during \(index)"])
            created.append(try #require(key["id"] as? String))
        }
        try cluster.start("n2")
        let n2 = "http://127.0.0.1:\(cluster.nodes[1].http)"
        let caughtUp = try await cluster.waitUntil(seconds: 20, observers: ["n1"]) { _ in true }
        #expect(caughtUp)
        var keyCount = 0
        let countDeadline = Date().addingTimeInterval(20)
        while Date() < countDeadline {
            let status = try await HTTP.json("GET", n2 + "/v1/cluster/status", token: cluster.adminToken, body: nil)
            keyCount = status["key_count"] as? Int ?? 0
            if keyCount == 11 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(keyCount == 11, "n2 holds \(keyCount) of 11 keys")
        // Its 8 earlier admissions came back from the peers: at most 12 more fit.
        try await Task.sleep(for: .milliseconds(500))
        client = try await GatehouseClient.connect(host: "127.0.0.1", port: n2Port)
        var admitted = 0
        for _ in 0..<20 where try await client.verify(secret).code == .valid { admitted += 1 }
        try await client.close()
        #expect(admitted <= 12, "n2 admitted \(admitted) after its restart")
        #expect(admitted >= 1)
    }

    /// Separate processes: a key created on n1 verifies on n3, a revocation on n2 holds on n1 and n3.
    @Test func writesOnAnyProcessHoldOnEveryProcess() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        for node in ["n1", "n2", "n3"] { try cluster.start(node) }
        let full = try await cluster.waitUntil(seconds: 15, observers: ["n1", "n2", "n3"]) { view in
            ["n1", "n2", "n3"].allSatisfy { view[$0]?.state == "alive" }
        }
        #expect(full)
        let created = try await HTTP.json("POST", "http://127.0.0.1:\(cluster.nodes[0].http)/v1/keys", token: cluster.adminToken, body: ["name": "everywhere"])
        let secret = try #require(created["key"] as? String)
        let id = try #require(created["id"] as? String)
        let n1 = try await GatehouseClient.connect(host: "127.0.0.1", port: cluster.nodes[0].rpc)
        let n3 = try await GatehouseClient.connect(host: "127.0.0.1", port: cluster.nodes[2].rpc)
        let start = Date()
        var valid = false
        while !valid && Date().timeIntervalSince(start) < 5 { valid = try await n3.verify(secret).code == .valid }
        #expect(valid)
        _ = try await HTTP.json("POST", "http://127.0.0.1:\(cluster.nodes[1].http)/v1/keys/\(id)/revoke", token: cluster.adminToken, body: nil)
        let revokedAt = Date()
        var revokedEverywhere = false
        while !revokedEverywhere && Date().timeIntervalSince(revokedAt) < 5 {
            let one = try await n1.verify(secret).code
            let three = try await n3.verify(secret).code
            revokedEverywhere = one == .revoked && three == .revoked
        }
        #expect(revokedEverywhere)
        try await n1.close()
        try await n3.close()
    }
}
