import Foundation
import Synchronization
import GatehouseNode
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `gatehouse serve` child process on free loopback ports, stopped by PID.
struct ServeProcess {
    let process: ChildProcess
    let endpoints: NodeEndpoints

    /// `extraArguments` go after the listen addresses, e.g. TLS flags; `environment` adds to
    /// this process's environment (e.g. `GATEHOUSE_GATEWAY_TOKENS`).
    static func start(
        executable: String, dataDirectory: String, adminToken: String, extraArguments: [String] = [],
        environment extraEnvironment: [String: String] = [:]
    ) async throws -> ServeProcess {
        let rpc = try FreePort.find()
        let http = try FreePort.find()
        let grpc = try FreePort.find()
        let arguments = ["serve", "--rpc", "127.0.0.1:\(rpc)", "--http", "127.0.0.1:\(http)", "--grpc", "127.0.0.1:\(grpc)", "--data-dir", dataDirectory, "--log-level", "warning"] + extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_ADMIN_TOKEN"] = adminToken
        environment.merge(extraEnvironment) { _, given in given }
        let process = try ChildProcess(executable: executable, arguments: arguments, environment: environment)
        let endpoints = NodeEndpoints(
            rpc: HostPort(host: "127.0.0.1", port: rpc), http: HostPort(host: "127.0.0.1", port: http), grpc: HostPort(host: "127.0.0.1", port: grpc))
        let serving = ServeProcess(process: process, endpoints: endpoints)
        let listening = try await waitUntil(timeout: .seconds(60)) {
            (FreePort.isListening(port: http) && FreePort.isListening(port: rpc)) || !process.isRunning
        }
        if listening && process.isRunning { return serving }
        serving.kill9()
        throw TestNodeError.unexpected("gatehouse serve did not start listening")
    }

    func kill9() {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }
}

/// Free loopback ports for child processes (which cannot report back a port 0 binding).
enum FreePort {
    /// Ports handed out by this test process, never handed out twice.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port free for TCP and UDP on 127.0.0.1, chosen below the kernel's ephemeral range
    /// (32768–60999): a port from that range, once released, can be taken by any outgoing
    /// connection before the node under test binds it, which made starts fail now and then.
    static func find() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000..<32_768)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if canBind(port: port, type: Int32(SOCK_STREAM.rawValue)) && canBind(port: port, type: Int32(SOCK_DGRAM.rawValue)) {
                return port
            }
        }
        throw TestNodeError.unexpected("no free port between 20000 and 32767")
    }

    private static func canBind(port: Int, type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0
    }

    static func isListening(port: Int, host: String = "127.0.0.1") -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

/// Plain JSON-over-HTTP calls for tests that talk to child processes.
enum HTTP {
    static func text(_ url: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON call that must answer one of `expecting` (default: any 2xx) with a JSON object;
    /// anything else throws, naming the status and the body, so a refused call never reads
    /// as an empty answer.
    static func json(
        _ method: String, _ url: String, token: String?, body: [String: Any]?, expecting: Set<Int>? = nil
    ) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data, as: UTF8.self)
        guard expecting.map({ $0.contains(status) }) ?? (200..<300).contains(status) else {
            throw TestNodeError.unexpected("\(method) \(url) answered \(status): \(text.prefix(300))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestNodeError.unexpected("\(method) \(url) answered \(status) without a JSON object: \(text.prefix(300))")
        }
        return object
    }
}
