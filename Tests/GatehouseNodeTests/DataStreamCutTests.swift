import Foundation
import GatehouseClient
import GatehouseCore
import Testing

/// Real processes, each on its own loopback address, with one node's TCP cut off by
/// iptables while its UDP probes still pass: the two planes are independent.
@Suite(
    "Data stream cut, real processes", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: LoopbackFirewall.isAvailable, "needs root and iptables (scripts/test installs iptables)"))
struct DataStreamCutTests {
    static let hosts = ["127.0.9.1", "127.0.9.2", "127.0.9.3"]

    @Test(.timeLimit(.minutes(2)))
    func aCutDataStreamDeclaresNoOneDeadAndItsWritesArriveWhenItHeals() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        // Anti-entropy's timer far beyond the test: what arrives, arrives by the streams.
        let cluster = try ClusterProcesses(executable: executable, count: 3, hosts: Self.hosts, antiEntropyMs: 600_000)
        defer { cluster.stopAll() }
        for node in ["n1", "n2", "n3"] { try await cluster.start(node) }
        #expect(try await cluster.waitUntil(seconds: 15, observers: ["n1", "n2", "n3"]) { view in
            ["n1", "n2", "n3"].allSatisfy { view[$0]?.state == "alive" }
        })
        let n1 = try await client(cluster, "n1")
        let n2 = try await client(cluster, "n2")
        let n3 = try await client(cluster, "n3")
        let earlier = try await createKey(cluster, on: "n1", name: "before the cut")
        try await eventually("the key made before the cut verifies on n3") { try await n3.verify(earlier.secret, cost: 0).code == .valid }

        let firewall = try LoopbackFirewall()
        defer { firewall.heal() }
        try await firewall.cutTCP(between: Self.hosts[2], and: Self.hosts[0])
        try await firewall.cutTCP(between: Self.hosts[2], and: Self.hosts[1])
        let onCutNode = try await createKey(cluster, on: "n3", name: "made on the cut node")
        let onOthers = try await createKey(cluster, on: "n1", name: "made while n3 is cut off")
        _ = try await HTTP.json("POST", cluster.httpBase("n1") + "/v1/keys/\(earlier.id)/revoke", token: cluster.adminToken, body: nil)

        // Four seconds cut off: twenty probe rounds, enough to suspect and kill a node whose
        // probes failed. Its probes are UDP and pass, so nobody may be suspected or die.
        let cutUntil = ContinuousClock.now + .seconds(4)
        var notAlive: [String] = []
        while ContinuousClock.now < cutUntil {
            for observer in ["n1", "n2", "n3"] {
                for (member, seen) in try await cluster.view(of: observer) where seen.state != "alive" {
                    notAlive.append("\(observer) saw \(member) \(seen.state)")
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(notAlive.isEmpty, "\(Set(notAlive).sorted())")
        // The cut is real: n3's write has not reached n1.
        #expect(try await n1.verify(onCutNode.secret, cost: 0).code == .notFound)

        firewall.heal()
        try await eventually("n3's write reaches n1 and n2 after the cut heals", timeout: .seconds(20)) {
            let one = try await n1.verify(onCutNode.secret, cost: 0).code
            let two = try await n2.verify(onCutNode.secret, cost: 0).code
            return one == .valid && two == .valid
        }
        try await eventually("the writes made meanwhile on n1 reach n3", timeout: .seconds(20)) {
            let created = try await n3.verify(onOthers.secret, cost: 0).code
            let revoked = try await n3.verify(earlier.secret, cost: 0).code
            return created == .valid && revoked == .revoked
        }
        for node in ["n1", "n2", "n3"] {
            let metrics = try await HTTP.text(cluster.httpBase(node) + "/metrics")
            #expect(Self.value(of: "gatehouse_gossip_deaths_declared_total", in: metrics) == 0, "\(node) declared a death")
            #expect(Self.value(of: "gatehouse_gossip_suspicions_total", in: metrics) == 0, "\(node) suspected someone")
        }
        for connection in [n1, n2, n3] { try await connection.close() }
    }

    private func client(_ cluster: ClusterProcesses, _ id: String) async throws -> GatehouseClient {
        let node = try #require(cluster.nodes.first { $0.id == id })
        return try await GatehouseClient.connect(host: node.host, port: node.rpc)
    }

    private func createKey(_ cluster: ClusterProcesses, on id: String, name: String) async throws -> (id: String, secret: String) {
        let created = try await HTTP.json("POST", cluster.httpBase(id) + "/v1/keys", token: cluster.adminToken, body: ["name": name])
        return (try #require(created["id"] as? String), try #require(created["key"] as? String))
    }

    static func value(of metric: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(metric + " ") || $0.hasPrefix(metric + "{") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}
