import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Limits of the Envoy gRPC listener.
public enum EnvoyGRPCServerLimits {
    /// A `ShouldRateLimit` or `Check` request is a few hundred bytes; Envoy never sends more
    /// than a request's headers (not its body, unless configured to, which Gatehouse ignores).
    public static let maxRequestBytes = 64 * 1024
}

/// The gRPC listener Envoy talks to: the rate-limit service and ext_authz, on HTTP/2
/// (grpc-swift), with the listener settings of the others: TLS from `tls:`, an idle
/// timeout, a connection cap per listener and per source, a request size limit, metrics.
final class EnvoyGRPCServer: Service, Sendable {
    private let address: HostPort
    private let services: [any RegistrableRPCService]
    private let interceptors: [any ServerInterceptor]
    private let settings: ConnectionSettings
    private let tls: TLSContextProvider?
    private let metrics: NodeMetrics
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let onBound: @Sendable (HostPort) -> Void
    private let connections: ConnectionRegistry

    init(
        address: HostPort, services: [any RegistrableRPCService], interceptors: [any ServerInterceptor], settings: ConnectionSettings,
        tls: TLSContextProvider?, metrics: NodeMetrics, group: MultiThreadedEventLoopGroup, logger: Logger,
        onBound: @escaping @Sendable (HostPort) -> Void
    ) {
        self.address = address
        self.services = services
        self.interceptors = interceptors
        self.settings = settings
        self.tls = tls
        self.metrics = metrics
        self.group = group
        self.logger = logger
        self.onBound = onBound
        connections = ConnectionRegistry(caps: .init(
            maxConnections: settings.grpcMaxConnections, maxUnauthenticated: settings.grpcMaxConnections,
            maxPerSource: settings.maxPerSource))
    }

    func run() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: address.host.contains(":") ? .ipv6(host: address.host, port: address.port) : .ipv4(host: address.host, port: address.port),
            transportSecurity: try transportSecurity(), config: transportConfig(), eventLoopGroup: group)
        let server = GRPCServer(transport: transport, services: services, interceptors: interceptors)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { tasks in
                tasks.addTask { try await server.serve() }
                let bound = try await transport.listeningAddress
                if let ipv4 = bound.ipv4 {
                    onBound(HostPort(host: ipv4.host, port: ipv4.port))
                } else if let ipv6 = bound.ipv6 {
                    onBound(HostPort(host: ipv6.host, port: ipv6.port))
                }
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    private func transportConfig() -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.connection.maxIdleTime = settings.grpcIdleTimeoutMs > 0 ? .milliseconds(settings.grpcIdleTimeoutMs) : nil
        config.rpc.maxRequestPayloadSize = EnvoyGRPCServerLimits.maxRequestBytes
        let connections = connections
        let metrics = metrics
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            switch connections.admit(channel, authenticated: true) {
            case .admitted:
                metrics.grpcConnectionsOpen.increment()
                channel.closeFuture.whenComplete { _ in metrics.grpcConnectionsOpen.decrement() }
                return channel.eventLoop.makeSucceededVoidFuture()
            case .refused(let reason):
                metrics.countClose(.grpc, reason)
                return channel.close()
            }
        }
        return config
    }

    /// TLS with the node's certificate and key (reloaded with them on SIGHUP), with client
    /// certificates required when `client_ca_file` is set (that file is read at start).
    private func transportSecurity() throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        return try .tls(certificateReloader: tls) { config in
            if let clientCA = tls.settings.clientCAFile {
                config.clientCertificateVerification = .noHostnameVerification
                config.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
            }
            config.requireALPN = false
        }
    }
}
