import Foundation
import GatehouseClient
import GatehouseCore
import GatehouseWire
import Testing

/// The cluster-wide ceilings with real processes: three nodes from one config, keys created
/// on n1 (so split over all three), load from RESP clients on every node.
@Suite("Escrow across real processes", .serialized, .timeLimit(.minutes(3)))
struct EscrowProcessTests {
    /// One started cluster and a client per node, for one test.
    struct Cluster {
        let processes: ClusterProcesses
        let clients: [GatehouseClient]

        static func start() async throws -> Cluster {
            let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
            let processes = try ClusterProcesses(executable: executable, count: 3)
            do {
                try await processes.startAll()
                var clients: [GatehouseClient] = []
                for node in processes.nodes { clients.append(try await processes.client(node.id)) }
                return Cluster(processes: processes, clients: clients)
            } catch {
                processes.stopAll()
                throw error
            }
        }

        /// A key made on n1, once every node verifies it (asked at cost 0: nothing spent).
        func key(_ body: [String: Any]) async throws -> (id: String, secret: String) {
            let key = try await processes.createKey(on: "n1", body)
            try await eventually("the key verifies on every node") {
                for client in clients where try await client.verify(key.secret, cost: 0).code != .valid { return false }
                return true
            }
            return key
        }

        func closeClients() async {
            for client in clients { try? await client.close() }
        }
    }

    /// 90 credits, 270 verifies round-robin: each node spends what it holds, never more; once
    /// the rows are exchanged every node reports none left.
    @Test func creditsAreNeverOverspentAcrossTheCluster() async throws {
        let cluster = try await Cluster.start()
        defer { cluster.processes.stopAll() }
        let key = try await cluster.key(["credits": 90, "limits": [] as [Any]])
        var admitted = 0
        for request in 0..<270 where try await cluster.clients[request % 3].verify(key.secret).code == .valid { admitted += 1 }
        #expect(admitted <= 90)
        #expect(admitted >= 85, "admitted only \(admitted) of 90 credits")
        try await eventually("every node reports the credits spent") {
            for client in cluster.clients where try await client.verify(key.secret, cost: 0).creditsRemaining != Int64(90 - admitted) {
                return false
            }
            return true
        }
        await cluster.closeClients()
    }

    /// 300 VERIFY at once on each node (pipelined, all three at the same moment) against a
    /// limit of 250: at most 255 admitted in the default mode (1.02 ×; the issue asks ≤ 262), at most 250 with `strict`.
    @Test(arguments: [false, true])
    func aBurstOnEveryNodeStaysUnderTheCeiling(strict: Bool) async throws {
        let cluster = try await Cluster.start()
        defer { cluster.processes.stopAll() }
        let key = try await cluster.key(["limits": [["name": "minute", "limit": 250, "window_ms": 60_000, "strict": strict]]])
        let burst = Array(repeating: GatehouseClient.verifyCommand(key.secret), count: 300)
        let (one, two, three) = (cluster.clients[0], cluster.clients[1], cluster.clients[2])
        async let first = one.pipeline(burst)
        async let second = two.pipeline(burst)
        async let third = three.pipeline(burst)
        let replies = try await [first, second, third]
        let admitted = replies.flatMap { $0 }.filter { VerifyAnswer(resp: $0)?.code == .valid }.count
        #expect(admitted <= (strict ? 250 : 255), "admitted \(admitted)")
        // Not refused wholesale: shares may end up where a burst is already over (the price
        // of bursts on every node at once), but most of the limit is admitted.
        #expect(admitted >= 125, "admitted only \(admitted)")
        await cluster.closeClients()
    }

    /// 1000 requests all on one node against a limit of 1000: the other nodes hand over the
    /// shares they do not use, so the traffic gets at least 95 % of the limit.
    @Test(arguments: [false, true])
    func trafficOnOneNodeGetsNearlyAllOfTheLimit(strict: Bool) async throws {
        let cluster = try await Cluster.start()
        defer { cluster.processes.stopAll() }
        let key = try await cluster.key(["limits": [["name": "hour", "limit": 1_000, "window_ms": 3_600_000, "strict": strict]]])
        var admitted = 0
        for _ in 0..<1_000 where try await cluster.clients[0].verify(key.secret).code == .valid { admitted += 1 }
        #expect(admitted >= 950, "admitted only \(admitted) of 1000")
        #expect(admitted <= 1_000)
        await cluster.closeClients()
    }
}
