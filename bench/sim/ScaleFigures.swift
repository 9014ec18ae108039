import Foundation
import GatehouseCore
import GatehouseMembership
import GatehouseTestKit

/// Issue 9, part 6: counter-sync traffic and write convergence at 5, 50 and 500 nodes with
/// 10,000 hot keys (`CounterScaleSimulator.hotKeyMix`), from the simulators that drive the
/// shipped machines. Each cluster size runs with the shipped settings (direct send up to 16
/// peers, fan-out with relays beyond) and, above 16 nodes, also with direct send to every
/// peer: full replication as the baseline the fan-out is meant to improve on.
///
/// The long runs are shortened (the table says how many seconds each measured): the shipped
/// fan-out relays every slot to 3 peers for λ·log(N+1) rounds, so at 50 nodes it is ~1M
/// slot copies per simulated second, and at 500 nodes with all 10,000 keys it would be
/// ~100M frames per simulated second, so it runs with 1/100 of the mix (100 keys).
enum ScaleFigures {
    struct Run {
        var nodes: Int
        var direct: Bool
        var trafficMs: Int64
        /// Fraction of the hot-key mix simulated (each class scaled alike); 1 but for the
        /// shipped fan-out at 500 nodes, whose relays make every frame cost 36 copies.
        var keys: Double = 1
    }

    static func run(quick: Bool, jsonPath: String) {
        var report: [String: Any] = ["date": ISO8601DateFormatter().string(from: Date()), "quick": quick]
        let mix = CounterScaleSimulator.hotKeyMix
        report["key_mix"] = mix.map {
            ["name": $0.name, "keys": $0.keys, "limit": $0.limit, "window_ms": $0.windowMs, "requests_per_s": $0.requestsPerSecond]
        }
        let runs: [Run] =
            quick
            ? [Run(nodes: 5, direct: true, trafficMs: 3_000), Run(nodes: 50, direct: false, trafficMs: 2_000), Run(nodes: 50, direct: true, trafficMs: 2_000)]
            : [
                Run(nodes: 5, direct: true, trafficMs: 10_000),
                Run(nodes: 50, direct: false, trafficMs: 3_000), Run(nodes: 50, direct: true, trafficMs: 10_000),
                Run(nodes: 500, direct: true, trafficMs: 2_500), Run(nodes: 500, direct: false, trafficMs: 2_500, keys: 0.01),
            ]
        print("counter sync, 10,000 hot keys (\(mix.map { "\($0.keys) × \($0.name)" }.joined(separator: "; ")))")
        print("  sync tick 50 ms, CounterSendRule() defaults, 1–5 ms delay, no loss; rates over traffic after a 1 s warm-up")
        print("  nodes  keys   mode                sim s  own slots/s  slots sent/s  frames/s   sent KB/s  B/slot  admitted/limit mean  max  relays  wall s")
        var counters: [[String: Any]] = []
        for run in runs {
            let keyClasses = mix.map { keyClass in
                var scaled = keyClass
                scaled.keys = max(1, Int((Double(keyClass.keys) * run.keys).rounded()))
                return scaled
            }
            var configuration = CounterScaleSimulator.Configuration(nodes: run.nodes, keyClasses: keyClasses, trafficMs: run.trafficMs)
            if run.direct { configuration.machine.directLimit = Int.max }
            configuration.seed = UInt64(run.nodes) &* 31 &+ (run.direct ? 1 : 0)
            let began = Date()
            let result = CounterScaleSimulator.run(configuration)
            let wall = Date().timeIntervalSince(began)
            let mode = result.fanout ? "fan-out 3 (shipped)" : (run.nodes - 1 <= ReplicationMachine.Settings().directLimit ? "direct (shipped)" : "direct to all")
            let perSlot = result.slotsPerNodePerSecond > 0 ? result.bytesPerNodePerSecond / result.slotsPerNodePerSecond : .nan
            print(String(format: "  %5d  %5d  %@ %4.1f  %11.0f  %12.0f  %8.0f  %10.1f  %6.1f  %19.3f  %4.3f  %6d  %6.0f",
                         run.nodes, result.keys, mode.padding(toLength: 19, withPad: " ", startingAt: 0), result.measuredSeconds, result.ownSlotsPerNodePerSecond, result.slotsPerNodePerSecond,
                         result.framesPerNodePerSecond, result.bytesPerNodePerSecond / 1_000, perSlot, result.meanRatio, result.maxRatio,
                         result.maxPendingRelays, wall))
            counters.append([
                "nodes": run.nodes, "mode": mode, "fanout": result.fanout, "keys": result.keys, "traffic_ms": run.trafficMs,
                "measured_s": result.measuredSeconds, "offered_per_s": result.offeredPerSecond, "admitted_per_s": result.admittedPerSecond,
                "own_slots_per_node_per_s": result.ownSlotsPerNodePerSecond, "slots_sent_per_node_per_s": result.slotsPerNodePerSecond,
                "frames_per_node_per_s": result.framesPerNodePerSecond, "bytes_per_node_per_s": result.bytesPerNodePerSecond,
                "bytes_per_slot": perSlot, "accuracy_mean_ratio": result.meanRatio, "accuracy_max_ratio": result.maxRatio,
                "max_pending_relays": result.maxPendingRelays, "wall_s": wall,
            ])
        }
        report["counters"] = counters

        print("key-record write convergence (push to all + anti-entropy every 5 s, 1–20 ms delay): time until every node holds a write")
        var writes: [[String: Any]] = []
        for replicas in quick ? [5, 50] : [5, 50, 500] {
            for loss in [0.0, 0.05] {
                let times = MembershipFigures.writeConvergence(replicas: replicas, writes: quick ? 5 : 20, loss: loss)
                let p50 = MembershipFigures.percentile(times, 0.5)
                let p99 = MembershipFigures.percentile(times, 0.99)
                writes.append(["replicas": replicas, "loss": loss, "writes": times.count, "p50_ms": p50, "p99_ms": p99, "max_ms": times.max() ?? .nan])
                print(String(format: "  N=%-4d loss %2.0f%%  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms", replicas, loss * 100, p50, p99, times.max() ?? .nan))
            }
        }
        report["write_convergence"] = writes

        if let data = try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) {
            _ = FileManager.default.createFile(atPath: jsonPath, contents: data)
            print("wrote \(jsonPath)")
        }
    }
}
