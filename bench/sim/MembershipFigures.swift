import Foundation
import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import GatehouseWire

/// Figures of the membership protocol from the deterministic simulator, with memberlist's
/// LAN defaults: failure detection time, false deaths under loss, gossip bandwidth, and
/// broadcast dissemination time. Run in release:
///   swift run -c release --scratch-path .build-release gatehouse-sim [--quick] [--json bench/results/membership-sim.json]
/// the escrow figures alone (bursts, one-node traffic, credits: `EscrowFigures`) with `--escrow`,
/// and the scale figures alone (counters and writes at 5, 50 and 500 nodes, `ScaleFigures`):
///   swift run -c release --scratch-path .build-release gatehouse-sim --scale [--quick] [--json bench/results/scale-sim.json]
@main
struct MembershipFigures {
    static func main() {
        let arguments = CommandLine.arguments
        let quick = arguments.contains("--quick")
        let jsonPath = arguments.firstIndex(of: "--json").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
        var report: [String: Any] = ["date": ISO8601DateFormatter().string(from: Date()), "quick": quick]
        if arguments.contains("--escrow") {
            EscrowFigures.run(jsonPath: jsonPath ?? "bench/results/escrow-sim.json")
            return
        }
        if arguments.contains("--scale") {
            ScaleFigures.run(quick: quick, jsonPath: jsonPath ?? "bench/results/scale-sim.json")
            return
        }

        print("membership figures (simulated, memberlist LAN defaults)\(quick ? " — quick" : "")")
        var detection: [[String: Any]] = []
        for (nodes, trials) in quick ? [(5, 3), (50, 1)] : [(5, 20), (50, 10), (500, 3)] {
            let result = detectionTimes(nodes: nodes, trials: trials)
            detection.append(result)
            print(String(format: "detection N=%-4d trials=%-3d p50 %6.2f s  p99 %6.2f s  all-nodes p99 %6.2f s", nodes, trials,
                         result["p50_s"] as! Double, result["p99_s"] as! Double, result["all_p99_s"] as! Double))
        }
        report["detection"] = detection
        // What a tighter suspicion buys at small N (a knob: timing.suspicion_multiplier).
        var tighter = MembershipSettings()
        tighter.suspicionMultiplier = 3
        let variant = detectionTimes(nodes: 5, trials: quick ? 3 : 20, settings: tighter)
        print(String(format: "detection N=5    suspicion_multiplier 3: p50 %6.2f s  p99 %6.2f s", variant["p50_s"] as! Double, variant["p99_s"] as! Double))
        report["detection_n5_suspicion_multiplier_3"] = variant

        let falseDeaths = falseDeathCount(nodes: 50, loss: 0.10, minutes: quick ? 1 : 10)
        print("false deaths N=50, 10% loss, \(quick ? 1 : 10) simulated min: \(falseDeaths)")
        report["false_deaths_50_nodes_10pct_loss"] = falseDeaths

        var bandwidth: [[String: Any]] = []
        for nodes in quick ? [10] : [10, 100] {
            let bytes = bytesPerNodePerSecond(nodes: nodes)
            bandwidth.append(["nodes": nodes, "bytes_per_node_per_s": bytes])
            print(String(format: "gossip bandwidth N=%-4d %8.0f bytes/s per node (sent, sealed)", nodes, bytes))
        }
        report["bandwidth"] = bandwidth

        var dissemination: [[String: Any]] = []
        for nodes in quick ? [50] : [50, 500] {
            let result = disseminationTimes(nodes: nodes, broadcasts: quick ? 3 : 10)
            dissemination.append(result)
            print(String(format: "broadcast to all N=%-4d p50 %6.2f s  p99 %6.2f s", nodes, result["p50_s"] as! Double, result["p99_s"] as! Double))
        }
        report["dissemination"] = dissemination

        var accuracy: [[String: Any]] = []
        print("rate-limit accuracy, 3 nodes sharing one key at 2× its limit (admitted / limit per window)")
        for (windowMs, limit) in [(Int64(1_000), Int64(1_000)), (10_000, 2_000), (60_000, 6_000)] {
            for (shares, loss) in [(false, 0.0), (true, 0.0), (true, 0.1)] {
                var encoder = DataStreamEncoder()
                let result = CounterAccuracySimulator.run(
                    nodes: 3, windowMs: windowMs, limit: limit, syncMs: 50, shares: shares, windows: quick ? 3 : 8, loss: loss,
                    rule: CounterSendRule()
                ) { slots in
                    // The real frames: encoded by the node's stream codec (one stream per
                    // peer, so its bucket dictionary persists), plus the seal and the length.
                    encoder.encode(.counters(origin: NodeID("n1"), slots: slots)).readableBytes + ClusterKeyring.overhead + 4
                }
                let bytes = result.bytesPerNodePerSecond
                accuracy.append([
                    "nodes": 3, "window_ms": windowMs, "limit": limit, "sync_ms": 50, "near_limit_shares": shares, "loss": loss,
                    "mean_ratio": result.meanRatio, "max_ratio": result.maxRatio, "first_window_ratio": result.firstWindowRatio,
                    "sync_bytes_per_node_per_s": bytes,
                ])
                print(String(format: "  window %5lld ms  sync 50 ms  %@  loss %2.0f%%  first window %.3f  steady mean %.3f  max %.3f  sync %4.0f B/s per node",
                             windowMs, shares ? "with shares   " : "without shares", loss * 100, result.firstWindowRatio, result.meanRatio, result.maxRatio, bytes))
            }
        }
        report["accuracy"] = accuracy

        var convergence: [[String: Any]] = []
        print("key-record write convergence (push to all + anti-entropy every 5 s, every message 5% loss, 1-20 ms delay)")
        for replicas in quick ? [5, 50] : [5, 50, 500] {
            let times = writeConvergence(replicas: replicas, writes: quick ? 5 : 20)
            convergence.append(["replicas": replicas, "p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99), "max_ms": times.max() ?? .nan])
            print(String(format: "  N=%-4d p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms", replicas, percentile(times, 0.5), percentile(times, 0.99), times.max() ?? .nan))
        }
        report["write_convergence"] = convergence

        var repair: [[String: Any]] = []
        print("anti-entropy alone (every pushed write lost; a digest round every 5 s per node)")
        for replicas in quick ? [5] : [5, 50, 500] {
            let times = writeConvergence(replicas: replicas, writes: quick ? 3 : 10, loss: 0, pushesLost: true)
            repair.append(["replicas": replicas, "p50_ms": percentile(times, 0.5), "max_ms": times.max() ?? .nan])
            print(String(format: "  N=%-4d p50 %7.0f ms  max %7.0f ms", replicas, percentile(times, 0.5), times.max() ?? .nan))
        }
        report["anti_entropy_only"] = repair

        if let jsonPath, let data = try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) {
            _ = FileManager.default.createFile(atPath: jsonPath, contents: data)
        }
    }

    /// Time until every replica holds a write, per write.
    static func writeConvergence(replicas: Int, writes: Int, loss: Double = 0.05, pushesLost: Bool = false) -> [Double] {
        var simulator = ReplicationSimulator(
            replicas: replicas, seed: UInt64(replicas), network: SimulatedNetwork(defaults: LinkConditions(loss: loss, minDelayMs: 1, maxDelayMs: 20)),
            antiEntropyMs: 5_000)
        simulator.dropEveryPush = pushesLost
        var times: [Double] = []
        for index in 0..<writes {
            let record = simulator.write("key_\(index)", on: index % replicas, name: "w\(index)")
            let start = simulator.nowMs
            while simulator.holders(of: record) < replicas && simulator.nowMs - start < 120_000 { simulator.run(forMs: 1) }
            times.append(Double(simulator.nowMs - start))
            simulator.run(forMs: 100)
        }
        return times
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded(.up)))]
    }

    /// Per-observer times from a crash to that observer marking the node dead.
    static func detectionTimes(nodes: Int, trials: Int, settings: MembershipSettings = MembershipSettings()) -> [String: Any] {
        var perObserver: [Double] = []
        var allNodes: [Double] = []
        for trial in 0..<trials {
            var simulator = MembershipSimulator(seed: UInt64(1000 + trial * 7919 + nodes), settings: settings)
            simulator.bootstrap(count: nodes, settleMs: nodes >= 100 ? 60_000 : 20_000)
            let victim = NodeID("n\(1 + (trial * 37) % nodes)")
            let crashAt = simulator.nowMs
            let start = simulator.observations.count
            simulator.crash(victim)
            let done = simulator.run(untilMs: crashAt + 180_000, stepMs: 100) { $0.everyone(sees: victim, as: [.dead]) }
            for observation in simulator.observations[start...] where observation.member.id == victim && observation.member.status == .dead {
                perObserver.append(Double(observation.atMs - crashAt) / 1000)
            }
            if let done { allNodes.append(Double(done - crashAt) / 1000) }
        }
        return [
            "nodes": nodes, "trials": trials, "p50_s": percentile(perObserver, 0.5), "p99_s": percentile(perObserver, 0.99),
            "all_p50_s": percentile(allNodes, 0.5), "all_p99_s": percentile(allNodes, 0.99),
        ]
    }

    static func falseDeathCount(nodes: Int, loss: Double, minutes: Int) -> Int {
        var simulator = MembershipSimulator(seed: 4242, network: SimulatedNetwork(defaults: LinkConditions(loss: loss, minDelayMs: 1, maxDelayMs: 10)))
        simulator.bootstrap(count: nodes, settleMs: 30_000)
        let start = simulator.observations.count
        simulator.run(forMs: Int64(minutes) * 60_000)
        return simulator.observations[start...].filter { $0.member.status == .dead }.count
    }

    /// Steady-state bytes sent per node per second, each datagram counted with its seal.
    static func bytesPerNodePerSecond(nodes: Int) -> Double {
        var simulator = MembershipSimulator(seed: 77)
        simulator.bootstrap(count: nodes, settleMs: 60_000)
        let bytes = simulator.bytesSent
        let messages = simulator.messagesSent
        simulator.run(forMs: 60_000)
        let sent = Double(simulator.bytesSent - bytes) + Double(simulator.messagesSent - messages) * Double(ClusterKeyring.overhead)
        return sent / Double(nodes) / 60
    }

    /// Time from a broadcast until every other node delivered it.
    static func disseminationTimes(nodes: Int, broadcasts: Int) -> [String: Any] {
        var simulator = MembershipSimulator(seed: 99)
        simulator.bootstrap(count: nodes, settleMs: nodes >= 100 ? 60_000 : 20_000)
        var times: [Double] = []
        for index in 0..<broadcasts {
            let origin = NodeID("n\(1 + (index * 13) % nodes)")
            let sentAt = simulator.nowMs
            let payload: [UInt8] = [UInt8(index & 0xFF), 0xAB]
            _ = simulator.broadcast(from: origin, payload: payload)
            let reached = simulator.run(untilMs: sentAt + 60_000, stepMs: 20) { simulator in
                simulator.upNodes.filter { $0 != origin }.allSatisfy { node in
                    simulator.deliveries[node]?.contains { $0.payload == payload } == true
                }
            }
            if let reached { times.append(Double(reached - sentAt) / 1000) }
            simulator.run(forMs: 5_000)
        }
        return ["nodes": nodes, "broadcasts": broadcasts, "reached": times.count, "p50_s": percentile(times, 0.5), "p99_s": percentile(times, 0.99)]
    }
}
