import GatehouseWire
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The open RESP connections of a node, so shutdown can close them and the connection
/// limit can be enforced.
final class ConnectionRegistry: Sendable {
    private let channels = LockedBox<[ObjectIdentifier: any Channel]>([:])
    private let nextID = Atomic<Int>(0)

    var count: Int { channels.withLock { $0.count } }

    /// Adds a channel unless `limit` are open already; returns its id, or `nil` when full.
    func admit(_ channel: any Channel, limit: Int) -> Int? {
        let admitted = channels.withLock { channels -> Bool in
            guard channels.count < limit else { return false }
            channels[ObjectIdentifier(channel)] = channel
            return true
        }
        guard admitted else { return nil }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        return nextID.add(1, ordering: .relaxed).newValue
    }

    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}

/// The RESP RPC listener, run as a service of the node's `ServiceGroup`.
final class RESPServer: Service {
    private let address: HostPort
    private let limits: RESPLimits
    private let maxConnections: Int
    private let shared: RESPServerContext
    private let group: any EventLoopGroup
    private let onBound: @Sendable (SocketAddress) -> Void

    init(
        address: HostPort, limits: RESPLimits, maxConnections: Int, shared: RESPServerContext,
        group: any EventLoopGroup, onBound: @escaping @Sendable (SocketAddress) -> Void
    ) {
        self.address = address
        self.limits = limits
        self.maxConnections = maxConnections
        self.shared = shared
        self.group = group
        self.onBound = onBound
    }

    func run() async throws {
        let shared = shared
        let limits = limits
        let maxConnections = maxConnections
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    shared.metrics.respConnectionsTotal.increment()
                    guard let id = shared.connections.admit(channel, limit: maxConnections) else {
                        shared.metrics.countRESPError(.connectionLimit)
                        try channel.pipeline.syncOperations.addHandler(ConnectionLimitHandler())
                        return
                    }
                    shared.metrics.respConnectionsOpen.increment()
                    channel.closeFuture.whenComplete { _ in shared.metrics.respConnectionsOpen.decrement() }
                    try channel.pipeline.syncOperations.addHandler(RESPConnectionHandler(
                        shared, limits: limits, connectionID: id, peer: channel.remoteAddress.flatMap(SourceAddress.identity)))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        if let local = channel.localAddress { onBound(local) }
        let shown = channel.localAddress.map { HostPort($0, fallback: address) } ?? address
        shared.logger.info("RESP listening", metadata: ["address": "\(shown)"])
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
