import Foundation
import Testing
import GatehouseClient
import GatehouseCore
import GatehouseNode
import GatehouseTestKit
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real node in this process on free loopback ports, with a manual clock and captured logs.
final class TestNode: Sendable {
    let server: GatehouseServer
    let endpoints: NodeEndpoints
    let clock: ManualClock
    let logs: LogCapture
    let dataDirectory: String
    private let task: Task<Void, any Error>

    static let adminToken = "test-admin-token-0123456789"
    static let pepper = "test-pepper-0123456789abcdef0123456789abcdef"

    /// Starts a node; `configure` adjusts the config (ports are always 0, data in a temp dir).
    /// It logs at `logLevel`: debug lines by default, which some paths act on (a RESP verify
    /// makes a request id for its debug line).
    static func start(
        dataDirectory: String? = nil, clock: ManualClock = ManualClock(), logs: LogCapture = LogCapture(),
        realClock: Bool = false, logLevel: Logger.Level = .debug, configure: (inout NodeConfig) -> Void = { _ in }
    ) async throws -> TestNode {
        var config = NodeConfig()
        config.rpcAddress = HostPort(host: "127.0.0.1", port: 0)
        config.httpAddress = HostPort(host: "127.0.0.1", port: 0)
        config.grpcAddress = nil
        config.dataDirectory = dataDirectory ?? TemporaryDirectory.make()
        config.adminToken = adminToken
        config.pepper = Array(pepper.utf8)
        config.usageFlushIntervalMs = 50
        // Deadlines far beyond what any test step takes on a loaded CI machine; the tests of
        // the deadlines themselves set their own.
        config.connections.authTimeoutMs = 60_000
        config.connections.frameTimeoutMs = 60_000
        configure(&config)
        let server = try GatehouseServer(config: config, logger: logs.logger(level: logLevel), now: realClock ? WallClock.nowMs : clock.now)
        let (stream, continuation) = AsyncStream.makeStream(of: NodeEndpoints.self)
        let task = Task {
            // If the node fails to start (say a port was taken meanwhile), the stream must
            // still end, or the test would wait forever.
            defer { continuation.finish() }
            try await server.run(handleSignals: false) { endpoints in
                continuation.yield(endpoints)
                continuation.finish()
            }
        }
        var iterator = stream.makeAsyncIterator()
        guard let endpoints = await iterator.next() else {
            // `run` ended without listening: surface its error.
            try await task.value
            throw TestNodeError.didNotStart
        }
        return TestNode(server: server, endpoints: endpoints, clock: clock, logs: logs, dataDirectory: config.dataDirectory, task: task)
    }

    private init(server: GatehouseServer, endpoints: NodeEndpoints, clock: ManualClock, logs: LogCapture, dataDirectory: String, task: Task<Void, any Error>) {
        self.server = server
        self.endpoints = endpoints
        self.clock = clock
        self.logs = logs
        self.dataDirectory = dataDirectory
        self.task = task
    }

    /// Graceful shutdown, waiting until the node has stopped.
    /// Graceful shutdown; a node that has not stopped after 30 s is cancelled and the test
    /// gets an issue, rather than the whole run waiting forever.
    func stop() async throws {
        await server.shutdown()
        let task = self.task
        let watchdog = Task { () -> Bool in
            do { try await Task.sleep(for: .seconds(30)) } catch { return false }
            task.cancel()
            return true
        }
        let outcome = await task.result
        watchdog.cancel()
        if await watchdog.value {
            Issue.record("the node did not stop within 30 s of a graceful shutdown; it was cancelled")
        } else {
            try outcome.get()
        }
    }

    func client(token: String? = nil, protocolVersion: Int = 2) async throws -> GatehouseClient {
        try await GatehouseClient.connect(host: endpoints.rpc.host, port: endpoints.rpc.port, token: token, protocolVersion: protocolVersion)
    }

    var httpBase: String { "http://\(endpoints.http.host):\(endpoints.http.port)" }

    /// One HTTP request; the body is raw bytes or a JSON object.
    func http(
        _ method: String, _ path: String, json: Any? = nil, raw: Data? = nil,
        token: String? = TestNode.adminToken, headers: [String: String] = [:]
    ) async throws -> HTTPReply {
        var request = URLRequest(url: URL(string: httpBase + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let raw {
            request.httpBody = raw
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return HTTPReply(status: http.statusCode, data: data, headers: http.allHeaderFields as? [String: String] ?? [:])
    }

    /// Creates a key through the API and returns (id, secret).
    func createKey(_ body: [String: Any] = [:]) async throws -> (id: String, secret: String) {
        let reply = try await http("POST", "/v1/keys", json: body)
        guard reply.status == 201, let id = reply.object["id"] as? String, let key = reply.object["key"] as? String else {
            throw TestNodeError.unexpected("create answered \(reply.status): \(reply.text)")
        }
        return (id, key)
    }

    /// The value of one metric line (exact name with labels) from `/metrics`.
    func metric(_ line: String) async throws -> Double? {
        let text = try await http("GET", "/metrics", token: nil).text
        for row in text.split(separator: "\n") where row.hasPrefix(line + " ") {
            return Double(row.dropFirst(line.count + 1))
        }
        return nil
    }
}

struct HTTPReply {
    var status: Int
    var data: Data
    var headers: [String: String]

    var text: String { String(decoding: data, as: UTF8.self) }
    var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:] }
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }

    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

enum TestNodeError: Error {
    case didNotStart
    case unexpected(String)
}

enum TemporaryDirectory {
    static func make() -> String {
        let path = NSTemporaryDirectory() + "gatehouse-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
