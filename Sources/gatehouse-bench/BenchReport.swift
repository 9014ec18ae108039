import Foundation
import Histogram

/// Everything a run measured and how, as `--json` writes it.
struct BenchReport: Codable, Sendable {
    var tool = "gatehouse-bench"
    var schema = 1
    var date: String
    var machine: MachineInfo
    var build: BuildInfo
    var flags: Flags
    var population: [String: Int]
    var results: Results
    /// The server's own counters: after minus before the run (Gatehouse `/metrics`, Redis `INFO stats`).
    var serverCounters: [String: Double]
    var failures: [String]

    struct Flags: Codable, Sendable {
        var target: String
        var workload: String
        var addresses: [String]
        var connections: Int
        var threads: Int
        var pipeline: Int
        var mode: String
        var rate: Double?
        var wakeGridUs: Int?
        var durationSeconds: Double?
        var requests: Int?
        var warmupSeconds: Double
        var keys: Int
        var invalidShare: Double
        var revokedShare: Double
        var rateLimitedShare: Double
        var popularity: String
        var seed: UInt64

        enum CodingKeys: String, CodingKey {
            case target, workload, addresses, connections, threads, pipeline, mode, rate, requests, keys, popularity, seed
            case wakeGridUs = "wake_grid_us"
            case durationSeconds = "duration_s"
            case warmupSeconds = "warmup_s"
            case invalidShare = "invalid_share"
            case revokedShare = "revoked_share"
            case rateLimitedShare = "rate_limited_share"
        }
    }

    struct Results: Codable, Sendable {
        var requests: Int
        var elapsedSeconds: Double
        var throughput: Double
        var accepted: Int
        var refused: Int
        var errors: Int
        var lost: Int
        var latencyMicroseconds: Latency
        /// Per 100 ms of due time since measuring began: replies, replies over 5 ms, and the
        /// slowest reply in µs (`[replies, slow, max_us]`).
        var latencyTimeline: [[Int]]? = nil
        /// Open loop: how late after its due time the load generator sent each request (a
        /// share of every latency that is the generator's own scheduling, not the server).
        var sendLatenessMicroseconds: Latency? = nil

        enum CodingKeys: String, CodingKey {
            case requests, throughput, accepted, refused, errors, lost
            case sendLatenessMicroseconds = "send_lateness_us"
            case elapsedSeconds = "elapsed_s"
            case latencyMicroseconds = "latency_us"
            case latencyTimeline = "latency_timeline"
        }
    }

    struct Latency: Codable, Sendable {
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double
        var mean: Double

        init(_ histogram: Histogram<UInt64>) {
            func us(_ ns: UInt64) -> Double { (Double(ns) / 1000).rounded(toPlaces: 1) }
            let empty = histogram.totalCount == 0
            p50 = empty ? 0 : us(histogram.valueAtPercentile(50))
            p90 = empty ? 0 : us(histogram.valueAtPercentile(90))
            p99 = empty ? 0 : us(histogram.valueAtPercentile(99))
            p999 = empty ? 0 : us(histogram.valueAtPercentile(99.9))
            max = empty ? 0 : us(histogram.max)
            mean = empty ? 0 : (histogram.mean / 1000).rounded(toPlaces: 1)
        }
    }

    enum CodingKeys: String, CodingKey {
        case tool, schema, date, machine, build, flags, population, results, failures
        case serverCounters = "server_counters"
    }

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The human-readable summary.
    func table() -> String {
        let l = results.latencyMicroseconds
        var lines = [
            "gatehouse-bench \(flags.target) \(flags.workload) → \(flags.addresses.joined(separator: ", "))",
            "  \(flags.mode), \(flags.connections) connections, pipeline \(flags.pipeline), \(flags.keys) keys (\(flags.popularity))",
            "  machine: \(machine.cores) cores, \(machine.memoryBytes >> 30) GiB, \(machine.cpuModel); commit \(build.gitCommit.prefix(12)), server \(build.serverBuild)",
            "",
            String(format: "  %-14@ %12@", "throughput" as NSString, String(format: "%.0f req/s", results.throughput) as NSString),
            "  requests       \(results.requests) in \(String(format: "%.2f", results.elapsedSeconds)) s (accepted \(results.accepted), refused \(results.refused), errors \(results.errors), lost \(results.lost))",
            "  latency µs     p50 \(l.p50)  p90 \(l.p90)  p99 \(l.p99)  p99.9 \(l.p999)  max \(l.max)  mean \(l.mean)",
        ]
        let counters = serverCounters.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        if !counters.isEmpty {
            lines.append("  server counters (delta):")
            for (name, value) in counters.prefix(24) { lines.append("    \(name) \(String(format: "%.0f", value))") }
        }
        for failure in failures.prefix(5) { lines.append("  failure: \(failure)") }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = Foundation.pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
