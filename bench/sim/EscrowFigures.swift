import Foundation
import GatehouseCore
import GatehouseMembership
import GatehouseTestKit

/// Issue 11, parts 4 and 5: the ceilings escrow holds, from `ReplicationSimulator` (the
/// shipped gatekeepers and replication machines, requests for more and hand-overs crossing a
/// simulated network with 0–1 ms delay):
///
/// - the burst curve: every node hit by `burst` requests at the same instant (nothing can be
///   exchanged meanwhile), limit 250, by cluster size — admitted ÷ limit, default and strict;
/// - traffic all on one node: 1000 requests at a given rate against a limit of 1000;
/// - the price of `strict`: a member declared dead keeps its share (strict) or the live
///   members split the limit again (default);
/// - credits: 90 credits, 270 requests round-robin, and the same under 20 % loss.
///
///   swift run -c release --scratch-path .build-release gatehouse-sim --escrow [--json bench/results/escrow-sim.json]
enum EscrowFigures {
    static let loopback = SimulatedNetwork(defaults: LinkConditions(minDelayMs: 0, maxDelayMs: 1))

    static func burst(nodes: Int, perNode: Int, strict: Bool, limit: Int64 = 250) -> Int {
        var simulator = ReplicationSimulator(replicas: nodes, seed: UInt64(nodes * 7_919 + perNode), network: loopback)
        let secret = simulator.countedKey(limit: limit, windowMs: 60_000, strict: strict)
        var admitted = 0
        for _ in 0..<perNode {
            for replica in 0..<nodes where simulator.hit(secret, on: replica) { admitted += 1 }
        }
        return admitted
    }

    /// `count` requests on replica 0 at `perMs` a millisecond.
    static func oneNode(count: Int, perMs: Int, strict: Bool, nodes: Int = 3) -> Int {
        var simulator = ReplicationSimulator(replicas: nodes, seed: UInt64(perMs), network: loopback)
        let secret = simulator.countedKey(limit: Int64(count), windowMs: 3_600_000, strict: strict)
        var admitted = 0
        var sent = 0
        while sent < count {
            for _ in 0..<min(perMs, count - sent) where simulator.hit(secret, on: 0) { admitted += 1 }
            sent += perMs
            simulator.run(forMs: 1)
        }
        return admitted
    }

    /// Three nodes, one declared dead before any traffic; 2000 requests over the two others
    /// against a limit of 1000: what they can still admit.
    static func afterADeath(strict: Bool) -> Int {
        var simulator = ReplicationSimulator(replicas: 3, seed: 5, network: loopback)
        let secret = simulator.countedKey(limit: 1_000, windowMs: 3_600_000, strict: strict)
        simulator.declareDead(2)
        var admitted = 0
        for request in 0..<2_000 {
            if simulator.hit(secret, on: request % 2) { admitted += 1 }
            if request % 10 == 0 { simulator.run(forMs: 1) }
        }
        return admitted
    }

    static func credits(network: SimulatedNetwork, seed: UInt64) -> Int {
        var simulator = ReplicationSimulator(replicas: 3, seed: seed, network: network)
        let secret = simulator.countedKey(limit: 1_000_000, windowMs: 3_600_000, credits: 90)
        var admitted = 0
        for request in 0..<270 {
            if simulator.hit(secret, on: request % 3) { admitted += 1 }
            simulator.run(forMs: 1)
        }
        return admitted
    }

    static func run(jsonPath: String) {
        var report: [String: Any] = ["date": ISO8601DateFormatter().string(from: Date())]
        print("burst on every node at once, limit 250: admitted ÷ limit (default / strict)")
        let bursts = [25, 50, 84, 100, 250, 1_000]
        print("  nodes " + bursts.map { String(format: "%13d", $0) }.joined())
        var curve: [[String: Any]] = []
        for nodes in [2, 3, 5, 10] {
            var line = String(format: "  %5d ", nodes)
            for perNode in bursts {
                let loose = burst(nodes: nodes, perNode: perNode, strict: false)
                let strict = burst(nodes: nodes, perNode: perNode, strict: true)
                line += String(format: "  %5.3f/%5.3f", Double(loose) / 250, Double(strict) / 250)
                curve.append(["nodes": nodes, "burst_per_node": perNode, "default": loose, "strict": strict])
            }
            print(line)
        }
        report["burst_curve"] = curve

        print("all traffic on one of 3 nodes, 1000 requests, limit 1000: admitted (default / strict)")
        var single: [[String: Any]] = []
        for perMs in [1, 10, 100, 1_000] {
            let loose = oneNode(count: 1_000, perMs: perMs, strict: false)
            let strict = oneNode(count: 1_000, perMs: perMs, strict: true)
            print(String(format: "  %5d per ms: %4d / %4d", perMs, loose, strict))
            single.append(["per_ms": perMs, "default": loose, "strict": strict])
        }
        report["one_node"] = single

        let looseDeath = afterADeath(strict: false)
        let strictDeath = afterADeath(strict: true)
        print("3 nodes, one declared dead, 2000 requests over the other two, limit 1000: admitted \(looseDeath) (default) / \(strictDeath) (strict)")
        report["after_a_death"] = ["default": looseDeath, "strict": strictDeath]

        let clean = credits(network: loopback, seed: 1)
        let lossy = (1...5).map { credits(network: SimulatedNetwork(defaults: LinkConditions(loss: 0.2, duplication: 0.2, minDelayMs: 1, maxDelayMs: 20)), seed: UInt64($0)) }
        print("90 credits, 270 requests round-robin over 3 nodes: admitted \(clean); with 20 % loss and duplication, 5 seeds: \(lossy)")
        report["credits"] = ["clean": clean, "lossy": lossy]

        if let data = try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) {
            _ = FileManager.default.createFile(atPath: jsonPath, contents: data)
            print("written: \(jsonPath)")
        }
    }
}
