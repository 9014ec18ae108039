import Foundation
import Testing

/// The benchmark harnesses build and produce well-formed output. Seconds-long runs that
/// check the shape of what they write, never how fast anything was.
@Suite("Benchmark harness smoke", .serialized, .timeLimit(.minutes(5)))
struct BenchHarnessSmokeTests {
    static let adminToken = "bench-smoke-admin-token-0123456789"
    static var redisAvailable: Bool { Subprocess.locate("redis-server") != nil }
    static var redisBenchmarkAvailable: Bool { redisAvailable && Subprocess.locate("redis-benchmark") != nil && Subprocess.locate("redis-cli") != nil }

    private func benchExecutable() throws -> String {
        try #require(Subprocess.builtExecutable(named: "gatehouse-bench"), "build the gatehouse-bench executable first (swift build)")
    }

    /// Runs `gatehouse-bench … --json` and returns the parsed report.
    /// A long drain grace: this checks the report's shape, and the suite around it can hold a
    /// reply up for seconds (a CI run lost one after the default 5).
    private func runBench(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await Subprocess.run(try benchExecutable(), arguments + ["--json", "--quiet", "--drain-grace", "60"], timeout: 180)
        #expect(result.status == 0, "gatehouse-bench failed: \(result.error)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.output.utf8))
        return try #require(parsed as? [String: Any], "gatehouse-bench --json printed no JSON object: \(result.output.prefix(300))")
    }

    /// Every report has the machine, the build, the flags, the population, results with
    /// ordered percentiles, and the server's counters.
    private func checkShape(_ report: [String: Any], workload: String, keys: Int) throws {
        #expect(report["tool"] as? String == "gatehouse-bench")
        #expect(report["schema"] as? Int == 1)
        let machine = try #require(report["machine"] as? [String: Any])
        #expect((machine["cores"] as? Int ?? 0) >= 1)
        #expect((machine["memory_bytes"] as? Int ?? 0) > 0)
        #expect(!(machine["cpu_model"] as? String ?? "").isEmpty)
        let build = try #require(report["build"] as? [String: Any])
        #expect(!(build["git_commit"] as? String ?? "").isEmpty)
        #expect(["debug", "release"].contains(build["bench_configuration"] as? String ?? ""))
        let flags = try #require(report["flags"] as? [String: Any])
        #expect(flags["workload"] as? String == workload)
        #expect(flags["keys"] as? Int == keys)
        let population = try #require(report["population"] as? [String: Int])
        #expect(population.values.reduce(0, +) == keys)
        let results = try #require(report["results"] as? [String: Any])
        #expect((results["requests"] as? Int ?? 0) > 0)
        #expect(results["errors"] as? Int == 0)
        #expect(results["lost"] as? Int == 0)
        #expect((results["accepted"] as? Int ?? 0) + (results["refused"] as? Int ?? 0) == results["requests"] as? Int)
        #expect((results["throughput"] as? Double ?? 0) > 0)
        let latency = try #require(results["latency_us"] as? [String: Double])
        let ordered = ["p50", "p90", "p99", "p999", "max"].compactMap { latency[$0] }
        #expect(ordered.count == 5)
        #expect(ordered == ordered.sorted())
        #expect(report["server_counters"] is [String: Double])
        #expect(report["failures"] as? [String] == [])
    }

    @Test func loadGeneratorDrivesEveryGatehouseWorkload() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
        let node = try await ServeProcess.start(executable: executable, dataDirectory: TemporaryDirectory.make(), adminToken: Self.adminToken)
        defer { node.kill9() }
        let rpc = "\(node.endpoints.rpc)"
        let http = "\(node.endpoints.http)"
        let common = ["-c", "4", "--keys", "20", "--admin-token", Self.adminToken, "--admin", http]

        let verify = try await runBench(common + [
            "--address", rpc, "-d", "1", "-P", "4", "--invalid-share", "0.2", "--revoked-share", "0.1", "--limited-share", "0.1",
            "--popularity", "zipf",
        ])
        try checkShape(verify, workload: "verify", keys: 20)
        let population = try #require(verify["population"] as? [String: Int])
        #expect(population == ["valid": 12, "invalid": 4, "revoked": 2, "rate_limited": 2])
        let counters = try #require(verify["server_counters"] as? [String: Double])
        let results = try #require(verify["results"] as? [String: Any])
        #expect((counters[#"gatehouse_verify_total{code="VALID"}"#] ?? 0) >= Double(results["accepted"] as? Int ?? 0))
        #expect((counters[#"gatehouse_verify_total{code="NOT_FOUND"}"#] ?? 0) > 0)

        try await checkShape(try runBench(common + ["--address", rpc, "--workload", "throttle", "-n", "400", "--limited-share", "0.5"]),
                       workload: "throttle", keys: 20)
        try await checkShape(try runBench(common + ["--address", http, "--workload", "http-verify", "-n", "200", "--invalid-share", "0.25"]),
                       workload: "http-verify", keys: 20)
        let openLoop = try await runBench(common + ["--address", http, "--workload", "http-auth", "--rate", "400", "-d", "1", "--wake-grid-us", "500"])
        try checkShape(openLoop, workload: "http-auth", keys: 20)
        let openFlags = try #require(openLoop["flags"] as? [String: Any])
        #expect(openFlags["mode"] as? String == "open-loop")
        #expect(openFlags["wake_grid_us"] as? Int == 500)
        // Every measured request went out at or after its due time, and the report says how late.
        let lateness = try #require((openLoop["results"] as? [String: Any])?["send_lateness_us"] as? [String: Double])
        #expect((lateness["max"] ?? -1) >= (lateness["p50"] ?? 0))
        #expect((lateness["p50"] ?? -1) >= 0)
    }

    @Test(.enabled(if: BenchHarnessSmokeTests.redisAvailable, "needs redis-server (scripts/test installs it)"))
    func loadGeneratorDrivesRedisGetAndTheLuaKeyCheck() async throws {
        let port = try FreePort.find()
        let redis = try ChildProcess(
            executable: try #require(Subprocess.locate("redis-server")),
            arguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        defer {
            redis.signal(SIGKILL)
            redis.waitUntilExit()
        }
        try await eventually("redis-server listens on \(port)") { FreePort.isListening(port: port) }

        let common = ["--target", "redis", "--address", "127.0.0.1:\(port)", "-c", "4", "--keys", "20", "-n", "400"]
        let lua = try await runBench(common + ["--workload", "lua", "--invalid-share", "0.25", "--revoked-share", "0.25"])
        try checkShape(lua, workload: "lua", keys: 20)
        // The Lua script refuses the unknown and revoked keys: the only refusals, so some, not all.
        let results = try #require(lua["results"] as? [String: Any])
        #expect((results["refused"] as? Int ?? 0) > 0)
        #expect((results["accepted"] as? Int ?? 0) > 0)
        let counters = try #require(lua["server_counters"] as? [String: Double])
        #expect((counters["redis_total_commands_processed"] ?? 0) >= 400)
        try await checkShape(try runBench(common + ["--workload", "get", "-P", "8"]), workload: "get", keys: 20)
    }

    @Test(.enabled(if: BenchHarnessSmokeTests.redisBenchmarkAvailable, "needs redis-server, redis-cli and redis-benchmark"))
    func compareScriptWritesOneTableOfAllThree() async throws {
        let executable = try #require(Subprocess.gatehouseExecutable())
        let binDirectory = URL(fileURLWithPath: executable).deletingLastPathComponent().path
        let out = TemporaryDirectory.make()
        let script = Subprocess.packageRoot.appendingPathComponent("bench/compare").path
        let result = try await Subprocess.run(script, ["--bin", binDirectory, "--out", out, "-n", "2000", "-d", "1", "-w", "0", "--keys", "10", "-c", "8"], timeout: 240)
        #expect(result.status == 0, "bench/compare failed: \(result.error.suffix(2000))")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/latest.json"))) as? [String: Any])
        let rows = try #require(summary["rows"] as? [[String: Any]])
        #expect(rows.count == 16)
        for tool in ["redis-benchmark", "gatehouse-bench"] {
            for target in ["Redis GET", "Redis Lua key check (EVALSHA)", "Gatehouse VERIFY", "Gatehouse VERIFY … FIELDS code,remaining"] {
                for pipeline in [1, 16] {
                    let row = rows.first { $0["tool"] as? String == tool && $0["target"] as? String == target && $0["pipeline"] as? Int == pipeline }
                    #expect((row?["rps"] as? Double ?? 0) > 0, "no throughput for \(tool) \(target) -P \(pipeline)")
                }
            }
        }
        let table = try String(contentsOfFile: out + "/latest.md", encoding: .utf8)
        #expect(table.contains("| tool | target | -P | req/s | p50 ms | p99 ms | × Redis GET | × Lua |"))
    }
}
