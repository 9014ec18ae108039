import Foundation
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
        let dropped = metrics.split(separator: "\n").first { $0.hasPrefix("gatehouse_gossip_dropped_packets_total{reason=\"not_authentic\"}") }
        #expect(dropped.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0 > 0)
    }
}
