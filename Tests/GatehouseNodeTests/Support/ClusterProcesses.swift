import Foundation
import GatehouseClient
import GatehouseNode
import Testing

/// A cluster of real `gatehouse serve` processes on loopback, from a generated config with
/// fast timing so failures are detected in a couple of seconds.
final class ClusterProcesses {
    struct NodePorts {
        var id: String
        /// The loopback address the node listens on and sends from (all of 127/8 is loopback).
        var host: String
        var rpc: Int
        var http: Int
        var gossip: Int
        /// The Envoy gRPC listener.
        var grpc: Int
    }

    let executable: String
    let directory: String
    let nodes: [NodePorts]
    let adminToken = "cluster-test-admin-token-0123456789"
    /// The anti-entropy timer of every node; long when a test must show a write arrived without it.
    let antiEntropyMs: Int
    /// Top-level settings added to the generated config (e.g. `envoy:`, `gateway_tokens:`).
    let extraYAML: String
    private(set) var processes: [String: ChildProcess] = [:]

    static let keyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    static let keyB = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI="

    /// `hosts`: one loopback address per node (default 127.0.0.1 for all), so a firewall
    /// rule can tell the nodes apart.
    init(executable: String, count: Int, hosts: [String]? = nil, antiEntropyMs: Int = 500, extraYAML: String = "") throws {
        self.executable = executable
        self.antiEntropyMs = antiEntropyMs
        self.extraYAML = extraYAML
        directory = TemporaryDirectory.make()
        nodes = try (1...count).map { index in
            NodePorts(
                id: "n\(index)", host: hosts?[index - 1] ?? "127.0.0.1", rpc: try FreePort.find(), http: try FreePort.find(),
                gossip: try FreePort.find(), grpc: try FreePort.find())
        }
        try writeConfig(name: "cluster.yaml", keys: [Self.keyA])
    }

    /// Writes a config for the same nodes with the given keyring (to make an impostor).
    func writeConfig(name: String, keys: [String]) throws {
        var yaml = """
            cluster:
              name: test
            pepper: "cluster-test-pepper-0123456789abcdef"
            admin_token: "\(adminToken)"
            gossip_keys: [\(keys.map { "\"\($0)\"" }.joined(separator: ", "))]
            log_level: warning
            timing:
              probe_interval_ms: 200
              probe_timeout_ms: 100
              gossip_interval_ms: 50
              suspicion_multiplier: 2
              push_pull_interval_ms: 2000
              reconnect_interval_ms: 1000
              anti_entropy_interval_ms: \(antiEntropyMs)
            nodes:

            """
        yaml = extraYAML + (extraYAML.isEmpty || extraYAML.hasSuffix("\n") ? "" : "\n") + yaml
        for node in nodes {
            yaml += "  - {id: \(node.id), rpc: \"\(node.host):\(node.rpc)\", http: \"\(node.host):\(node.http)\", "
                + "grpc: \"\(node.host):\(node.grpc)\", gossip: \"\(node.host):\(node.gossip)\", data_dir: ./\(node.id)}\n"
        }
        try yaml.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
    }

    /// `environment`: variables added to this process's own for the node (for example a
    /// clock moved on purpose).
    func start(_ id: String, config: String = "cluster.yaml", environment: [String: String] = [:]) async throws {
        let errorLog = "\(directory)/\(id).stderr"
        let process = try ChildProcess(
            executable: executable, arguments: ["serve", "--config", "\(directory)/\(config)", "--node", id],
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { _, added in added },
            standardError: .file(errorLog))
        processes[id] = process
        let node = nodes.first { $0.id == id }!
        let listening = try await GatehouseNodeTests.waitUntil(timeout: .seconds(60)) {
            FreePort.isListening(port: node.http, host: node.host) || !process.isRunning
        }
        if listening && process.isRunning { return }
        let stderr = (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? ""
        throw TestNodeError.unexpected("\(id) did not start: \(stderr.suffix(500))")
    }

    func kill9(_ id: String) {
        guard let process = processes[id] else { return }
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    func stopAll() {
        for id in processes.keys { kill9(id) }
    }

    /// `http://host:port` of a node's HTTP API.
    func httpBase(_ id: String) -> String {
        let node = nodes.first { $0.id == id }!
        return "http://\(node.host):\(node.http)"
    }

    /// `id`'s view: member id → (state, incarnation).
    func view(of id: String) async throws -> [String: (state: String, incarnation: Int64)] {
        let object = try await HTTP.json("GET", "\(httpBase(id))/v1/cluster/members", token: adminToken, body: nil)
        var view: [String: (String, Int64)] = [:]
        for member in object["members"] as? [[String: Any]] ?? [] {
            guard let name = member["id"] as? String, let state = member["state"] as? String else { continue }
            view[name] = (state, (member["incarnation"] as? NSNumber)?.int64Value ?? -1)
        }
        return view
    }

    /// Waits (`eventually`) until `condition` holds for the views of all `observers`;
    /// records an issue naming `what` when it does not within `seconds`.
    @discardableResult
    func waitUntil(
        _ what: String = "the members' views", seconds: Double, observers: [String],
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: ([String: (state: String, incarnation: Int64)]) -> Bool
    ) async throws -> Bool {
        try await eventually(what, timeout: .milliseconds(Int64(seconds * 1000)), sourceLocation: sourceLocation) {
            for observer in observers where !condition(try await view(of: observer)) { return false }
            return true
        }
    }

    /// Starts n1…nN and waits until every one sees every other alive and is ready (its
    /// peers answered its counter recovery: strict limits and credits are decided again).
    func startAll(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for node in nodes { try await start(node.id) }
        let ids = nodes.map(\.id)
        try await waitUntil("every node sees all \(ids.count) alive", seconds: 30, observers: ids, sourceLocation: sourceLocation) { view in
            ids.allSatisfy { view[$0]?.state == "alive" }
        }
        try await eventually("every node is ready", sourceLocation: sourceLocation) {
            for id in ids where try await !isReady(id) { return false }
            return true
        }
    }

    /// Whether `GET /readyz` of a node answers 200.
    func isReady(_ id: String) async throws -> Bool {
        let answer = try await HTTP.json("GET", httpBase(id) + "/readyz", token: nil, body: nil, expecting: [200, 503])
        return answer["ready"] as? Bool == true
    }

    /// A metric's value on a node (its first sample when labelled), or `nil` when absent.
    func metric(_ name: String, on id: String) async throws -> Double? {
        let text = try await HTTP.text(httpBase(id) + "/metrics")
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// Creates a key on a node through the admin API: its id and secret.
    func createKey(on id: String, _ body: [String: Any]) async throws -> (id: String, secret: String) {
        let created = try await HTTP.json("POST", httpBase(id) + "/v1/keys", token: adminToken, body: body, expecting: [201])
        guard let keyID = created["id"] as? String, let secret = created["key"] as? String else {
            throw TestNodeError.unexpected("create answered without id and key: \(created)")
        }
        return (keyID, secret)
    }

    /// A RESP client of a node.
    func client(_ id: String) async throws -> GatehouseClient {
        let node = nodes.first { $0.id == id }!
        return try await GatehouseClient.connect(host: node.host, port: node.rpc)
    }
}
