import Foundation
import Testing

/// Every `gatehouse` command run with `--json` prints JSON: the admin commands the API's
/// answer, `verify` the decision, `serve` and `cluster up` JSON lines.
@Suite("gatehouse --json", .timeLimit(.minutes(5)))
struct CLIJSONOutputTests {
    private func executable() throws -> String {
        try #require(Subprocess.gatehouseExecutable(), "build the gatehouse executable first (swift build)")
    }

    /// Runs `gatehouse arguments… --json` and returns its output parsed as one JSON object.
    private func json(_ executable: String, _ arguments: [String], exitStatus: Int32 = 0) async throws -> [String: Any] {
        let result = try await Subprocess.run(executable, arguments + ["--json"])
        #expect(result.status == exitStatus, "gatehouse \(arguments.joined(separator: " ")): \(result.error)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return try #require(object, "gatehouse \(arguments.joined(separator: " ")) --json printed: \(result.output)")
    }

    @Test func adminCommandsAndVerifyPrintJSON() async throws {
        let gatehouse = try executable()
        let node = try await TestNode.start()
        let admin = ["--url", node.httpBase, "--admin-token", TestNode.adminToken]
        let created = try await json(gatehouse, ["keys", "create", "--owner", "acct_json", "--limit", "minute:60:60000", "--meta", "tier=gold"] + admin)
        let id = try #require(created["id"] as? String)
        let secret = try #require(created["key"] as? String)
        let listed = try await json(gatehouse, ["keys", "list", "--owner", "acct_json"] + admin)
        #expect((listed["keys"] as? [[String: Any]])?.count == 1)
        let shown = try await json(gatehouse, ["keys", "show", id] + admin)
        #expect(shown["meta"] as? [String: String] == ["tier": "gold"])
        #expect(try await json(gatehouse, ["keys", "update", id, "--name", "renamed"] + admin)["name"] as? String == "renamed")
        let verified = try await json(gatehouse, ["verify", secret, "--rpc", "127.0.0.1:\(node.endpoints.rpc.port)"])
        #expect(verified["code"] as? String == "VALID")
        #expect(verified["limit"] as? Int == 60)
        let rotated = try await json(gatehouse, ["keys", "rotate", id, "--grace-ms", "1000"] + admin)
        #expect(rotated["key"] as? String != secret)
        #expect(try await json(gatehouse, ["keys", "revoke", id] + admin)["revoked_at"] is String)
        let refused = try await json(gatehouse, ["verify", secret, "--rpc", "127.0.0.1:\(node.endpoints.rpc.port)"], exitStatus: 2)
        #expect(refused["valid"] as? Bool == false)
        #expect(try await json(gatehouse, ["members"] + admin)["clustered"] as? Bool == false)
        #expect(try await json(gatehouse, ["cluster", "status"] + admin)["key_count"] as? Int == 1)
        let trail = try await json(gatehouse, ["audit", "--key", id] + admin)
        // Made at one instant of the test's clock: the order among them is by id, so compare as a set.
        let actions = (trail["entries"] as? [[String: Any]])?.compactMap { $0["action"] as? String } ?? []
        #expect(actions.count == 4 && Set(actions) == ["key.create", "key.update", "key.rotate", "key.revoke"])
        let token = try await json(gatehouse, ["tokens", "generate", "--name", "ci", "--permission", "keys:read"])
        #expect(token["permissions"] as? [String] == ["keys:read"])
        #expect((token["sha256"] as? String)?.count == 64 && (token["token"] as? String)?.hasPrefix("gadmin_") == true)
        try await node.stop()
    }

    @Test func serveAnnouncesItsStartAsAJSONLine() async throws {
        let gatehouse = try executable()
        let directory = TemporaryDirectory.make()
        let (http, rpc) = (try FreePort.find(), try FreePort.find())
        let output = "\(directory)/stdout"
        try Data().write(to: URL(fileURLWithPath: output))
        let process = try ChildProcess(
            executable: gatehouse,
            arguments: [
                "serve", "--json", "--rpc", "127.0.0.1:\(rpc)", "--http", "127.0.0.1:\(http)", "--grpc", "off",
                "--data-dir", "\(directory)/data", "--log-level", "warning",
            ],
            standardOutput: .file(output))
        defer {
            process.signal(SIGKILL)
            process.waitUntilExit()
        }
        func lines() -> [String] {
            (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        }
        try await eventually("serve --json printed its start line") { !lines().isEmpty }
        let line = try #require(lines().first)
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let object = try #require(parsed, "not a JSON object: \(line)")
        #expect(object["event"] as? String == "listening")
        #expect(object["http"] as? String == "127.0.0.1:\(http)")
        #expect(object["grpc"] is NSNull)
        #expect(object["api_version"] as? String == "1")
        let token = try #require(object["admin_token"] as? String, "a first start generates the admin token and shows it once")
        #expect(token.hasPrefix("gadmin_"))
        #expect(lines().count == 1, "nothing but JSON lines on standard output: \(lines())")
    }

    @Test func clusterUpWritesJSONLines() async throws {
        let gatehouse = try executable()
        let directory = TemporaryDirectory.make()
        let (http, rpc) = (try FreePort.find(), try FreePort.find())
        let config = "\(directory)/cluster.yaml"
        try """
            admin_token: "cluster-up-json-admin-token"
            pepper: "cluster-up-json-pepper-0123456789abcdef"
            log_level: warning
            nodes:
              - {id: n1, rpc: "127.0.0.1:\(rpc)", http: "127.0.0.1:\(http)", data_dir: ./n1}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let output = "\(directory)/stdout"
        try Data().write(to: URL(fileURLWithPath: output))
        let process = try ChildProcess(
            executable: gatehouse, arguments: ["cluster", "up", "--json", "--config", config], standardOutput: .file(output))
        func objects() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["unparsed": String(line)]
            }
        }
        try await eventually("the node started and announced itself") {
            objects().contains { $0["event"] as? String == "listening" }
        }
        let started = try #require(objects().first { $0["event"] as? String == "started" })
        let child = try #require(started["pid"] as? Int)
        process.signal(SIGTERM)
        process.waitUntilExit()
        // cluster up stops its children before it exits; make sure, by PID, if it did not.
        if kill(pid_t(child), 0) == 0 {
            Issue.record("cluster up left its node running")
            kill(pid_t(child), SIGKILL)
        }
        let all = objects()
        #expect(all.allSatisfy { $0["unparsed"] == nil }, "every line is JSON: \(all)")
        #expect(all.last?["event"] as? String == "stopped")
        #expect(all.first { $0["event"] as? String == "listening" }?["http"] as? String == "127.0.0.1:\(http)")
    }
}
