import ArgumentParser
import Foundation
import GatehouseClient

/// `gatehouse-bench`: the load generator for Gatehouse (RESP and HTTP) and, for the side
/// by side, plain Redis (`GET`, and the Lua key check through `EVALSHA`).
@main
struct GatehouseBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse-bench",
        abstract: "Load generator for Gatehouse VERIFY/THROTTLE over RESP, /v1/verify and /v1/auth over HTTP, and Redis GET / Lua.",
        discussion: """
            Closed loop by default (each connection keeps --pipeline requests in flight); --rate makes it
            open loop at that many requests per second in total, with latency measured from when each
            request was due. Keys are created through the admin API (Gatehouse) or loaded into Redis
            before the clock starts.
            """)

    @Option(help: "What serves the requests: gatehouse or redis.")
    var target: Target = .gatehouse

    @Option(help: "verify, verify-verdict (VERIFY … FIELDS code,remaining), throttle, http-verify, http-auth (gatehouse); get, lua (redis). Default: verify, or lua for redis.")
    var workload: Workload?

    @Option(name: .customLong("address"), help: "host:port to load; repeat to spread connections over several nodes. Default: the target's usual port on 127.0.0.1.")
    var addresses: [Endpoint] = []

    @Option(help: "host:port of the Gatehouse HTTP API, for creating keys and reading /metrics. Default 127.0.0.1:7380.")
    var admin: Endpoint?

    @Option(help: "Admin token for creating keys (default: $GATEHOUSE_ADMIN_TOKEN).")
    var adminToken: String?

    @Option(help: "Gateway token sent with HTTP verify requests (default: $GATEHOUSE_GATEWAY_TOKEN).")
    var gatewayToken: String?

    @Option(name: [.short, .long], help: "Connections in total.")
    var connections = 50

    @Option(help: "Event-loop threads of the load generator (default: the number of cores).")
    var threads: Int?

    @Option(name: [.customShort("P"), .long], help: "Requests in flight per connection (closed loop), or the most in flight (open loop).")
    var pipeline = 1

    @Option(name: [.short, .long], help: "Seconds to send for (default 10 unless --requests is given).")
    var duration: Double?

    @Option(name: [.customShort("n"), .long], help: "Requests in total, instead of a duration.")
    var requests: Int?

    @Option(help: "Open loop: requests per second in total, at fixed intervals.")
    var rate: Double?

    @Option(help: "Open loop: wake the timers on a grid of this many µs, so requests due close together share a wake-up (less load-generator CPU; the wait counts in the latency). 0: wake at each due time.")
    var wakeGridUs: Int = 0

    @Option(help: "Seconds of load before measuring starts.")
    var warmup: Double = 0

    @Option(help: "Seconds to wait for outstanding replies after the last send; replies still missing then count as lost.")
    var drainGrace: Double = 5

    @Option(help: "How many keys in the population.")
    var keys = 1000

    @Option(help: "Share of keys that were never created (NOT_FOUND).")
    var invalidShare = 0.0

    @Option(help: "Share of keys that are revoked.")
    var revokedShare = 0.0

    @Option(help: "Share of keys with a limit of 1 per hour (RATE_LIMITED after their first use).")
    var limitedShare = 0.0

    @Option(help: "Key popularity: uniform or zipf.")
    var popularity = "uniform"

    @Option(help: "Exponent of the Zipf popularity.")
    var zipfExponent = 1.0

    @Option(help: "Seed of every random choice, so runs repeat.")
    var seed: UInt64 = 1

    @Flag(help: "Print the results as JSON on stdout instead of the table.")
    var json = false

    @Option(help: "Also write the JSON results to this file.")
    var jsonFile: String?

    @Option(help: "How the server was built, recorded in the JSON (e.g. release).")
    var serverBuild = "unknown"

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    @Flag(help: "Print the Lua key-check script the Redis baseline runs, and exit.")
    var printLuaScript = false

    mutating func validate() throws {
        if printLuaScript { return }
        let workload = resolvedWorkload
        guard workload.target == target else {
            throw ValidationError("workload \(workload.rawValue) runs against \(workload.target.rawValue), not \(target.rawValue)")
        }
        guard connections >= 1, pipeline >= 1, keys >= 1 else { throw ValidationError("--connections, --pipeline and --keys must be at least 1") }
        guard popularity == "uniform" || popularity == "zipf" else { throw ValidationError("--popularity is uniform or zipf") }
        for share in [invalidShare, revokedShare, limitedShare] where !(0...1).contains(share) {
            throw ValidationError("shares are between 0 and 1")
        }
        guard invalidShare + revokedShare + limitedShare <= 1 else { throw ValidationError("the shares add up to more than 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if duration != nil && requests != nil { throw ValidationError("give --duration or --requests, not both") }
    }

    private var resolvedWorkload: Workload { workload ?? (target == .redis ? .lua : .verify) }

    func run() async throws {
        if printLuaScript {
            print(LuaKeyCheck.script, terminator: "")
            return
        }
        let workload = resolvedWorkload
        let environment = ProcessInfo.processInfo.environment
        let defaultPort = workload.target == .redis ? 6379 : (workload.usesHTTP ? 7380 : 7379)
        let addresses = self.addresses.isEmpty ? [Endpoint(host: "127.0.0.1", port: defaultPort)] : self.addresses
        let adminAPI = AdminAPI(
            endpoint: admin ?? (workload.usesHTTP ? addresses[0] : Endpoint(host: "127.0.0.1", port: 7380)),
            adminToken: adminToken ?? environment["GATEHOUSE_ADMIN_TOKEN"])
        let gatewayToken = gatewayToken ?? environment["GATEHOUSE_GATEWAY_TOKEN"]
        let shares = KeyPopulation.Shares(invalid: invalidShare, revoked: revokedShare, rateLimited: limitedShare)
        let kinds = KeyPopulation.plan(count: keys, shares: shares, seed: seed)
        let chosenPopularity: Popularity = popularity == "zipf" ? .zipf(exponent: zipfExponent) : .uniform

        log("preparing \(keys) keys on \(workload.target.rawValue)…")
        let population: KeyPopulation
        var luaSHA: String?
        var redis: GatehouseClient?
        switch workload.target {
        case .gatehouse:
            population = try await PopulationLoader.create(kinds: kinds, on: adminAPI, seed: seed)
        case .redis:
            let client = try await GatehouseClient.connect(host: addresses[0].host, port: addresses[0].port)
            (population, luaSHA) = try await PopulationLoader.loadIntoRedis(kinds: kinds, client: client, seed: seed)
            redis = client
        }
        let catalog = RequestCatalog(workload: workload, population: population, gatewayToken: gatewayToken, luaSHA: luaSHA)
        let picker = KeyPicker(count: population.secrets.count, popularity: chosenPopularity)

        let before = try await counters(workload: workload, admin: adminAPI, redis: redis)
        let runner = LoadRunner(
            addresses: addresses, connections: connections, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
            pipeline: pipeline, rate: rate, wakeGridNs: UInt64(max(0, wakeGridUs)) * 1000, durationSeconds: requests == nil ? (duration ?? 10) : nil, requests: requests,
            warmupSeconds: warmup, drainGraceNs: UInt64(max(0, drainGrace) * 1e9), seed: seed, progress: !quiet)
        log("running \(workload.rawValue) against \(addresses.map(\.description).joined(separator: ", "))…")
        let measurement = try await runner.run(catalog: catalog, picker: picker, framer: workload.framer)
        let after = try await counters(workload: workload, admin: adminAPI, redis: redis)
        try? await redis?.close()

        var deltas: [String: Double] = [:]
        for (name, value) in after { deltas[name] = value - (before[name] ?? 0) }
        let result = measurement.result
        let report = BenchReport(
            date: ISO8601DateFormatter().string(from: Date()),
            machine: .current(),
            build: .current(serverBuild: serverBuild),
            flags: .init(
                target: target.rawValue, workload: workload.rawValue, addresses: addresses.map(\.description),
                connections: connections, threads: runner.threads, pipeline: pipeline,
                mode: rate == nil ? "closed-loop" : "open-loop", rate: rate, wakeGridUs: rate == nil ? nil : wakeGridUs, durationSeconds: runner.durationSeconds,
                requests: requests, warmupSeconds: warmup, keys: keys, invalidShare: invalidShare, revokedShare: revokedShare,
                rateLimitedShare: limitedShare, popularity: chosenPopularity.label, seed: seed),
            population: Dictionary(uniqueKeysWithValues: KeyKind.allCases.map { ($0.rawValue, population.count(of: $0)) }),
            results: .init(
                requests: result.completed, elapsedSeconds: measurement.elapsedSeconds.rounded(toPlaces: 3),
                throughput: (Double(result.completed) / max(measurement.elapsedSeconds, 1e-9)).rounded(toPlaces: 1),
                accepted: result.accepted, refused: result.refused, errors: result.errors, lost: result.lost,
                latencyMicroseconds: .init(result.histogram),
                latencyTimeline: result.timeline.map { [$0.replies, $0.slow, Int($0.maxNs / 1000)] },
                sendLatenessMicroseconds: rate == nil ? nil : .init(result.sendLateness)),
            serverCounters: deltas,
            failures: Array(Set(measurement.connectionFailures)).sorted())
        let data = try report.json()
        if let jsonFile { try data.write(to: URL(fileURLWithPath: jsonFile)) }
        if json {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print(report.table(), terminator: "")
        }
        if result.completed == 0 { throw ExitCode(1) }
    }

    /// The server's counters now: `/metrics` of a Gatehouse node, `INFO stats` of Redis.
    private func counters(workload: Workload, admin: AdminAPI, redis: GatehouseClient?) async throws -> [String: Double] {
        if let redis {
            let text = try await redis.send(["INFO", "stats"]).string ?? ""
            var values: [String: Double] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, let value = Double(parts[1]) { values["redis_" + parts[0]] = value }
            }
            return values
        }
        do {
            return try await admin.scrapeMetrics()
        } catch {
            log("could not read \(admin.endpoint)/metrics: \(error)")
            return [:]
        }
    }

    private func log(_ line: String) {
        if !quiet { FileHandle.standardError.write(Data("gatehouse-bench: \(line)\n".utf8)) }
    }
}
