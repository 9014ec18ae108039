import GatehouseWire
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The RESP RPC listener, run as a service of the node's `ServiceGroup`.
final class RESPServer: Service {
    private let address: HostPort
    private let limits: RESPLimits
    private let settings: ConnectionSettings
    private let shared: RESPServerContext
    private let group: any EventLoopGroup
    /// `nil`: plain RESP.
    private let tls: TLSContextProvider?
    private let onBound: @Sendable (SocketAddress) -> Void

    init(
        address: HostPort, limits: RESPLimits, settings: ConnectionSettings, shared: RESPServerContext,
        group: any EventLoopGroup, tls: TLSContextProvider? = nil, onBound: @escaping @Sendable (SocketAddress) -> Void
    ) {
        self.address = address
        self.limits = limits
        self.settings = settings
        self.shared = shared
        self.group = group
        self.tls = tls
        self.onBound = onBound
    }

    func run() async throws {
        let shared = shared
        let limits = limits
        let authRequired = shared.authenticator.isRequired
        let machineSettings = RESPConnectionStateMachine.Settings(settings, authRequired: authRequired)
        let highWater = settings.outputHighWaterBytes
        let tls = tls
        let handshakeTimeoutMs = settings.frameTimeoutMs
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            // The handler asks for every read, so it can stop reading a client that does not
            // read its replies; the channel turns unwritable at the same high-water mark.
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: highWater / 2, high: highWater))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    shared.metrics.respConnectionsTotal.increment()
                    if let tls {
                        // First in the pipeline, so everything behind it, refusals included,
                        // speaks plaintext; the context is the one current at accept time.
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOSSLServerHandler(context: tls.context))
                        try sync.addHandler(TLSHandshakeGuard(
                            timeoutMs: handshakeTimeoutMs, listener: .resp, metrics: shared.metrics, logger: shared.logger))
                    }
                    let id: Int
                    switch shared.connections.admit(channel, authenticated: !authRequired) {
                    case .admitted(let admitted):
                        id = admitted
                    case .refused(let reason):
                        shared.metrics.countClose(.resp, reason)
                        if reason == .listenerLimit { shared.metrics.countRESPError(.connectionLimit) }
                        try channel.pipeline.syncOperations.addHandler(ConnectionLimitHandler(reason: reason))
                        return
                    }
                    shared.metrics.respConnectionsOpen.increment()
                    channel.closeFuture.whenComplete { _ in shared.metrics.respConnectionsOpen.decrement() }
                    let openedAt = DeadlineTimer.now(channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(RESPConnectionHandler(
                        shared, limits: limits, settings: machineSettings, connectionID: id, openedAt: openedAt,
                        peer: channel.remoteAddress.flatMap(SourceAddress.identity)))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        if let local = channel.localAddress { onBound(local) }
        let shown = channel.localAddress.map { HostPort($0, fallback: address) } ?? address
        shared.logger.info("RESP listening", metadata: ["address": "\(shown)", "tls": "\(tls != nil)"])
        // Cancellation-aware as well as shutdown-aware: a close future ignores cancellation.
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
                shared.connections.closeAll()
            }
        } onCancel: {
            channel.close(promise: nil)
            shared.connections.closeAll()
        }
    }
}
