import Foundation
import GatehouseClient
import Testing

/// A real node whose wall clock is a minute ahead (`GATEHOUSE_CLOCK_OFFSET_MS`): its peers'
/// probes show it, it says so (log and metrics) and answers on the cluster's time, so its
/// writes are not refused by its peers and keys do not expire early on it.
@Suite("A node with a wrong clock, real processes", .serialized, .timeLimit(.minutes(3)))
struct ClockSkewProcessTests {
    @Test func aNodeAMinuteAheadAnswersOnTheClustersTime() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        let cluster = try ClusterProcesses(executable: executable, count: 3)
        defer { cluster.stopAll() }
        try await cluster.start("n1")
        try await cluster.start("n2")
        try await cluster.start("n3", environment: ["GATEHOUSE_CLOCK_OFFSET_MS": "60000"])
        try await cluster.waitUntil("every node sees all three alive", seconds: 30, observers: ["n1", "n2", "n3"]) { view in
            ["n1", "n2", "n3"].allSatisfy { view[$0]?.state == "alive" }
        }
        try await eventually("n3 corrects its clock by about a minute", timeout: .seconds(30)) {
            let correction = try await cluster.metric("gatehouse_clock_correction_milliseconds", on: "n3") ?? 0
            return abs(correction + 60_000) < 1_000
        }
        for node in ["n1", "n2"] {
            #expect(try await cluster.metric("gatehouse_clock_correction_milliseconds", on: node) == 0, "\(node) corrected its clock")
            let measured = try #require(try await cluster.metric("gatehouse_clock_cluster_offset_milliseconds", on: node))
            #expect(abs(measured) < 1_000, "\(node) measured the cluster \(measured) ms off")
        }
        let log = try String(contentsOfFile: "\(cluster.directory)/n3.stderr", encoding: .utf8)
        #expect(log.contains("answering on the cluster's time"))

        // A key that expires in 30 s, made on n1: on n3's own clock it would be expired already.
        let expiresAt = ISO8601DateFormatter().string(from: Date().addingTimeInterval(30))
        let expiring = try await cluster.createKey(on: "n1", ["name": "expiring", "expires_at": expiresAt])
        // A key made on n3: its version is on the cluster's time, so its peers take it.
        let madeOnN3 = try await cluster.createKey(on: "n3", ["name": "made on the skewed node"])
        let n1 = try await cluster.client("n1")
        let n3 = try await cluster.client("n3")
        try await eventually("the key made on n1 verifies on n3, unexpired") { try await n3.verify(expiring.secret, cost: 0).code == .valid }
        try await eventually("the key made on n3 verifies on n1") { try await n1.verify(madeOnN3.secret, cost: 0).code == .valid }
        #expect(try await cluster.metric("gatehouse_replication_rejected_total{reason=\"clock_skew\"}", on: "n1") ?? 0 == 0)
        try await n1.close()
        try await n3.close()
    }
}
