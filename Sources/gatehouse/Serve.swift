import ArgumentParser
import Foundation
import GatehouseNode
import Logging
import NIOCore

/// `gatehouse serve`: run one node, on embedded defaults or from a `cluster.yaml`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Gatehouse node (defaults: RESP on 127.0.0.1:7379, HTTP on 127.0.0.1:7380, data in ./gatehouse-data).")

    @Option(help: "A cluster.yaml describing the node(s).")
    var config: String?

    @Option(help: "Which node of the config file to run.")
    var node: String?

    @Option(help: "RESP listen address, host:port (overrides the config).")
    var rpc: String?

    @Option(help: "HTTP listen address, host:port (overrides the config).")
    var http: String?

    @Option(help: "Envoy gRPC listen address (rate-limit service, ext_authz), host:port or off (overrides the config; default 127.0.0.1:7381 without one).")
    var grpc: String?

    @Option(help: "Data directory (overrides the config).")
    var dataDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(help: "Access lines of RESP VERIFY: off, sampled or full (overrides access_log.resp).")
    var accessLogResp: String?

    @Option(help: "PEM certificate chain: serve RESP and HTTP over TLS (overrides tls.certificate_file). Reloaded on SIGHUP.")
    var tlsCertificateFile: String?

    @Option(help: "PEM private key of the certificate (overrides tls.private_key_file). Reloaded on SIGHUP.")
    var tlsPrivateKeyFile: String?

    @Option(help: "PEM CA certificate(s): require client certificates they signed, mutual TLS (overrides tls.client_ca_file).")
    var tlsClientCaFile: String?

    @Flag(help: "Announce the start as one JSON line on standard output (addresses, and a newly generated admin token) instead of text.")
    var json = false

    func run() async throws {
        let nodeConfig: NodeConfig
        do {
            nodeConfig = try resolveConfig()
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("gatehouse: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if let threads = nodeConfig.connections.eventLoopThreads {
            // Before anything touches the shared event loop group, which is sized once.
            NIOSingletons.groupLoopCountSuggestion = threads
        }
        for warning in ExposureWarnings.of(nodeConfig) {
            FileHandle.standardError.write(Data("gatehouse: WARNING: \(warning)\n".utf8))
        }
        let level = nodeConfig.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        var logger = Logger(label: "gatehouse")
        logger[metadataKey: "node_id"] = "\(nodeConfig.nodeID)"
        let server: GatehouseServer
        do {
            server = try GatehouseServer(config: nodeConfig, logger: logger, now: try wallClock(logger: logger))
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("gatehouse: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let newToken = server.secrets.newlyGeneratedAdminToken
        let tokenFile = "\(nodeConfig.dataDirectory)/\(NodeSecrets.fileName)"
        if let newToken, !json {
            let notice = """
                Admin token (shown once; kept in \(tokenFile), mode 0600):
                  \(newToken)

                """
            FileHandle.standardOutput.write(Data(notice.utf8))
        }
        let namedTokens = server.secrets.newlyGeneratedNamedTokens
        if !namedTokens.isEmpty, !json {
            let lines = namedTokens.map { "  \($0.name): \($0.token)" }.joined(separator: "\n")
            let notice = "Admin tokens generated for admin_tokens (shown once; only their SHA-256 is kept in \(tokenFile)):\n\(lines)\n\n"
            FileHandle.standardOutput.write(Data(notice.utf8))
        }
        let tls = nodeConfig.tls
        let modes = [ClientListener.resp, .http, .grpc].map { listener -> String in
            guard tls.applies(to: listener) else { return "" }
            return tls.clientCAFile == nil ? " (TLS)" : " (TLS, client certificates required)"
        }
        try await server.run { endpoints in
            let line: String
            if json {
                var announcement: [String: Any] = [
                    "event": "listening", "node_id": nodeConfig.nodeID, "version": GatehouseVersion.current,
                    "api_version": APIVersion.current, "resp": "\(endpoints.rpc)", "http": "\(endpoints.http)",
                    "grpc": endpoints.grpc.map { "\($0)" } ?? NSNull(),
                    "tls": ClientListener.allCases.filter { tls.applies(to: $0) }.map(\.rawValue),
                ]
                if let newToken {
                    announcement["admin_token"] = newToken
                    announcement["admin_token_file"] = tokenFile
                }
                if !namedTokens.isEmpty {
                    announcement["admin_tokens"] = Dictionary(namedTokens.map { ($0.name, $0.token) }, uniquingKeysWith: { first, _ in first })
                }
                line = (try? JSONOutput.line(announcement)) ?? "{}"
            } else {
                let grpc = endpoints.grpc.map { ", Envoy gRPC on \($0)\(modes[2])" } ?? ""
                line = "gatehouse \(GatehouseVersion.current) node \(nodeConfig.nodeID): RESP on \(endpoints.rpc)\(modes[0]), HTTP on \(endpoints.http)\(modes[1])\(grpc)"
            }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    private func resolveConfig() throws -> NodeConfig {
        var resolved: NodeConfig
        let environment = ProcessInfo.processInfo.environment
        if let path = config {
            guard let yaml = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError(field: "--config", problem: "\(path) cannot be read", fix: "give the path of a readable cluster.yaml")
            }
            let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
            resolved = try ConfigLoader.load(yaml: yaml, nodeID: node, environment: environment, baseDirectory: base)
        } else {
            guard node == nil else {
                throw ConfigError(field: "--node", problem: "needs a config file", fix: "add --config cluster.yaml")
            }
            resolved = try ConfigLoader.defaults(environment: environment)
        }
        if let rpc {
            guard let address = HostPort(parsing: rpc) else {
                throw ConfigError(field: "--rpc", problem: "\"\(rpc)\" is not host:port", fix: "write it like 127.0.0.1:7379")
            }
            resolved.rpcAddress = address
        }
        if let http {
            guard let address = HostPort(parsing: http) else {
                throw ConfigError(field: "--http", problem: "\"\(http)\" is not host:port", fix: "write it like 127.0.0.1:7380")
            }
            resolved.httpAddress = address
        }
        if let grpc {
            if grpc == "off" {
                resolved.grpcAddress = nil
            } else {
                guard let address = HostPort(parsing: grpc) else {
                    throw ConfigError(field: "--grpc", problem: "\"\(grpc)\" is not host:port", fix: "write it like 127.0.0.1:7381, or off")
                }
                resolved.grpcAddress = address
            }
        }
        if let dataDir { resolved.dataDirectory = dataDir }
        if let accessLogResp {
            guard let mode = AccessLogSettings.Mode(rawValue: accessLogResp) else {
                throw ConfigError(field: "--access-log-resp", problem: "\"\(accessLogResp)\" is not a mode", fix: "use off, sampled or full")
            }
            resolved.accessLog.resp = mode
        }
        if let tlsCertificateFile { resolved.tls.certificateFile = tlsCertificateFile }
        if let tlsPrivateKeyFile { resolved.tls.privateKeyFile = tlsPrivateKeyFile }
        if let tlsClientCaFile { resolved.tls.clientCAFile = tlsClientCaFile }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ConfigError(field: "--log-level", problem: "\"\(logLevel)\" is not a level", fix: "use one of trace, debug, info, notice, warning, error, critical")
            }
            resolved.logLevel = level
        }
        try resolved.validate()
        return resolved
    }

    /// The wall clock, moved by `GATEHOUSE_CLOCK_OFFSET_MS` when that is set (a wrong clock on
    /// purpose, for tests), which is said loudly.
    private func wallClock(logger: Logger) throws -> @Sendable () -> Int64 {
        guard let text = ProcessInfo.processInfo.environment[ConfigLoader.Environment.clockOffsetMs] else { return WallClock.nowMs }
        guard let offset = Int64(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigError(
                field: ConfigLoader.Environment.clockOffsetMs, problem: "is not a whole number of milliseconds",
                fix: "unset it (it exists to make a node's clock wrong on purpose)")
        }
        logger.warning("the wall clock is moved on purpose", metadata: ["\(ConfigLoader.Environment.clockOffsetMs)": "\(offset)"])
        return { WallClock.nowMs() &+ offset }
    }
}
