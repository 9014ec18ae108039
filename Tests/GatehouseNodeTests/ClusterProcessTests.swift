import Foundation
import GatehouseClient
import Testing

/// Real processes on loopback: membership over encrypted UDP and TCP, end to end.
@Suite("Cluster of real processes", .serialized, .timeLimit(.minutes(3)))
struct ClusterProcessTests {
    private func cluster() throws -> ClusterProcesses {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        return try ClusterProcesses(executable: executable, count: 3)
    }

    @Test func threeNodesReachAFullViewAndSeeACrashAndARestart() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        try await cluster.startAll()
        let before = try #require(try await cluster.view(of: "n1")["n2"]?.incarnation)

        cluster.kill9("n2")
        try await cluster.waitUntil("n1 and n3 declare the crashed n2 dead", seconds: 30, observers: ["n1", "n3"]) {
            $0["n2"]?.state == "dead"
        }

        try await cluster.start("n2")
        try await cluster.waitUntil("the restarted n2 is alive again for n1 and n3", seconds: 30, observers: ["n1", "n3"]) {
            $0["n2"]?.state == "alive"
        }
        let after = try #require(try await cluster.view(of: "n1")["n2"]?.incarnation)
        #expect(after > before)
    }

    @Test func aNodeWithTheWrongKeyringCannotJoin() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        try cluster.writeConfig(name: "impostor.yaml", keys: [ClusterProcesses.keyB])
        try await cluster.start("n1")
        try await cluster.start("n2")
        try await cluster.waitUntil("n1 and n2 see each other", seconds: 30, observers: ["n1", "n2"]) {
            $0["n1"]?.state == "alive" && $0["n2"]?.state == "alive"
        }
        try await cluster.start("n3", config: "impostor.yaml")
        // The impostor's join (a push-pull over TCP) fails at its first, wrongly sealed frame.
        try await eventually("n1 refuses the impostor's stream as not authentic", timeout: .seconds(30)) {
            (try await cluster.metric("gatehouse_data_streams_refused_total{reason=\"not_authentic\"}", on: "n1") ?? 0) > 0
        }
        #expect(try await cluster.view(of: "n1")["n3"] == nil)
        #expect(try await cluster.view(of: "n2")["n3"] == nil)
        let impostorView = try await cluster.view(of: "n3")
        #expect(impostorView["n3"]?.state == "alive", "the impostor answers, with only itself in view")
        #expect(impostorView["n1"] == nil && impostorView["n2"] == nil)
    }

    /// kill -9 during writes: the restarted node catches up the keys it missed and gets its
    /// own rate-limit counts back from its peers; a strict limit it had spent most of is
    /// never passed, however soon after its start it is asked.
    @Test func aNodeKilledDuringWritesCatchesUpKeysAndCounters() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        try await cluster.startAll()
        let limited = try await cluster.createKey(on: "n1", [
            "name": "limited", "limits": [["name": "minute", "limit": 20, "window_ms": 60_000]],
        ])
        let strict = try await cluster.createKey(on: "n1", [
            "name": "strict", "limits": [["name": "hour", "limit": 30, "window_ms": 3_600_000, "strict": true]],
        ])
        var client = try await cluster.client("n2")
        try await eventually("the keys reach n2") {
            let limitedCode = try await client.verify(limited.secret, cost: 0).code
            let strictCode = try await client.verify(strict.secret, cost: 0).code
            return limitedCode == .valid && strictCode == .valid
        }
        for _ in 0..<8 { #expect(try await client.verify(limited.secret).code == .valid) }
        // More than its third of the strict limit: its peers handed it part of theirs.
        var strictAdmitted = 0
        for _ in 0..<20 where try await client.verify(strict.secret).code == .valid { strictAdmitted += 1 }
        #expect(strictAdmitted > 10)
        try await client.close()
        // n2's eight admissions reach its peers before it dies.
        for peer in ["n1", "n3"] {
            let other = try await cluster.client(peer)
            try await eventually("\(peer) counts n2's 8 admissions") {
                try await other.verify(limited.secret, cost: 0).remaining == 12
            }
            try await other.close()
        }

        var created: [String] = []
        for index in 0..<10 {
            if index == 4 { cluster.kill9("n2") }
            created.append(try await cluster.createKey(on: "n1", ["name": "during \(index)"]).id)
        }
        try await cluster.start("n2")
        // At once, before its peers can have given it anything back: what it answers now must
        // not spend the strict limit a second time.
        client = try await cluster.client("n2")
        for _ in 0..<15 where try await client.verify(strict.secret).code == .valid { strictAdmitted += 1 }
        try await client.close()
        let n2 = cluster.httpBase("n2")
        try await cluster.waitUntil("n1 sees the restarted n2 alive", seconds: 30, observers: ["n1"]) { $0["n2"]?.state == "alive" }
        try await eventually("n2 holds all 12 keys", timeout: .seconds(30)) {
            let status = try await HTTP.json("GET", n2 + "/v1/cluster/status", token: cluster.adminToken, body: nil)
            return status["key_count"] as? Int == 12
        }
        // Its 8 earlier admissions came back from the peers: 12 are left, seen without spending.
        client = try await cluster.client("n2")
        try await eventually("the restarted n2 knows its own 8 admissions again") {
            try await client.verify(limited.secret, cost: 0).remaining == 12
        }
        var admitted = 0
        for _ in 0..<20 where try await client.verify(limited.secret).code == .valid { admitted += 1 }
        try await client.close()
        #expect(admitted <= 12, "n2 admitted \(admitted) after its restart")
        #expect(admitted >= 1)

        try await eventually("the restarted n2 is ready (its peers answered)") { try await cluster.isReady("n2") }
        for index in 0..<45 {
            let node = cluster.nodes[index % 3].id
            let each = try await cluster.client(node)
            if try await each.verify(strict.secret).code == .valid { strictAdmitted += 1 }
            try await each.close()
        }
        #expect(strictAdmitted <= 30, "\(strictAdmitted) admitted against a strict limit of 30 over a kill -9")
    }

    /// Separate processes: a key created on n1 verifies on n3, a revocation on n2 holds on n1 and n3.
    @Test func writesOnAnyProcessHoldOnEveryProcess() async throws {
        let cluster = try cluster()
        defer { cluster.stopAll() }
        try await cluster.startAll()
        let created = try await cluster.createKey(on: "n1", ["name": "everywhere"])
        let n1 = try await cluster.client("n1")
        let n3 = try await cluster.client("n3")
        try await eventually("the key made on n1 verifies on n3") { try await n3.verify(created.secret, cost: 0).code == .valid }
        let revoked = try await HTTP.json(
            "POST", cluster.httpBase("n2") + "/v1/keys/\(created.id)/revoke", token: cluster.adminToken, body: nil, expecting: [200])
        #expect(revoked["revoked_at"] != nil)
        try await eventually("the revoke made on n2 holds on n1 and n3") {
            let one = try await n1.verify(created.secret, cost: 0).code
            let three = try await n3.verify(created.secret, cost: 0).code
            return one == .revoked && three == .revoked
        }
        try await n1.close()
        try await n3.close()
    }
}
