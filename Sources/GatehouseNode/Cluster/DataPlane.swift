import GatehouseCore
import GatehouseMembership
import GatehouseWire
import Logging
import NIOCore
import NIOPosix

/// The data plane's transport: one outbound sealed stream per live peer (`PeerLink`), and
/// the TCP listener on the gossip port that accepts peers' streams and membership
/// push-pulls. It runs on an event loop of its own, apart from the RESP and HTTP loops and
/// from failure detection, so neither load nor a slow peer delays a probe.
///
/// Every inbound connection must open with a sealed frame of at most
/// `handshakeMaxFrameBytes` within `handshakeTimeoutMs`; until then it holds no more than
/// that, and at most `maxUnauthenticated` such connections exist at once.
final class DataPlane: Sendable {
    let nodeID: NodeID
    let keyring: ClusterKeyring
    let metrics: DataPlaneMetrics
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    var loop: any EventLoop { group.next() }
    let outboxLimits: DataStreamOutbox.Limits
    /// The local address outbound streams leave from: the node's own gossip address, so a
    /// peer (and a firewall) sees the address the member is known by. `nil` for a wildcard
    /// or a host name.
    let localAddress: SocketAddress?
    let connectTimeoutMs: Int64 = 2_000
    let maxBackoffMs: Int64 = 5_000
    let handshakeTimeoutMs: Int64
    let handshakeMaxFrameBytes = 4 * 1024
    let maxFrameBytes: Int
    let maxConnections: Int
    let maxUnauthenticated: Int
    /// Streams whose frames do not authenticate are security events.
    let events: SecurityEventLog?
    private let links: NIOLoopBoundBox<[NodeID: PeerLink]>
    private let inbound: NIOLoopBoundBox<(all: Int, unauthenticated: Int)>
    private let random: NIOLoopBoundBox<SystemRandomNumberGenerator>
    private let hooks = LockedBox<Hooks>(Hooks())
    /// Fault injection for tests (`GossipService.setIsolated`): nothing is sent or delivered.
    private let isolated = LockedBox(false)

    func setIsolated(_ value: Bool) {
        isolated.withLock { $0 = value }
    }

    struct Hooks {
        var message: (@Sendable (DataMessage, NodeID) -> Void)?
        var connected: (@Sendable (NodeID) -> Void)?
        var pushPull: (@Sendable ([UInt8]) async -> [UInt8]?)?
    }

    init(
        nodeID: NodeID, keyring: ClusterKeyring, metrics: DataPlaneMetrics, logger: Logger, localHost: String, maxFrameBytes: Int,
        handshakeTimeoutMs: Int64 = 5_000, maxConnections: Int = 1_024, maxUnauthenticated: Int = 64,
        outboxLimits: DataStreamOutbox.Limits = DataStreamOutbox.Limits(), events: SecurityEventLog? = nil
    ) {
        self.events = events
        self.nodeID = nodeID
        self.keyring = keyring
        self.metrics = metrics
        self.logger = logger
        self.maxFrameBytes = maxFrameBytes
        self.handshakeTimeoutMs = handshakeTimeoutMs
        self.maxConnections = maxConnections
        self.maxUnauthenticated = maxUnauthenticated
        self.outboxLimits = outboxLimits
        localAddress = Self.outboundAddress(for: localHost)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        ClusterThreadPriority.set(loop, nice: ClusterThreadPriority.dataPlane(), logger: logger)
        links = NIOLoopBoundBox.makeBoxSendingValue([:], eventLoop: loop)
        inbound = NIOLoopBoundBox.makeBoxSendingValue((0, 0), eventLoop: loop)
        random = NIOLoopBoundBox.makeBoxSendingValue(SystemRandomNumberGenerator(), eventLoop: loop)
    }

    /// Messages from peers' streams, on the data plane's loop, attributed to the member whose
    /// sealed `hello` opened the stream.
    func onMessage(_ handler: @escaping @Sendable (DataMessage, NodeID) -> Void) {
        hooks.withLock { $0.message = handler }
    }

    /// An outbound stream to a peer came up (first time or again), on the loop.
    func onStreamConnected(_ handler: @escaping @Sendable (NodeID) -> Void) {
        hooks.withLock { $0.connected = handler }
    }

    /// Answers a membership push-pull request (its opened plaintext) with a sealed response.
    func onPushPull(_ handler: @escaping @Sendable ([UInt8]) async -> [UInt8]?) {
        hooks.withLock { $0.pushPull = handler }
    }

    /// A specific IP address to send from, or `nil` when the kernel should choose.
    static func outboundAddress(for host: String) -> SocketAddress? {
        guard host != "0.0.0.0", host != "::", let address = try? SocketAddress(ipAddress: host, port: 0) else { return nil }
        return address
    }

    // MARK: Sending (on the loop)

    /// Sends to one live peer over its stream, connecting first if needed.
    func send(_ message: DataMessage, to peer: NodeID) {
        loop.preconditionInEventLoop()
        guard !isolated.withLock({ $0 }) else { return }
        links.value[peer]?.send(message)
    }

    /// The live members changed: links for new ones, closed links for those gone.
    func setPeers(_ peers: [NodeID: MemberAddress]) {
        loop.preconditionInEventLoop()
        for (peer, link) in links.value where peers[peer] == nil {
            link.close()
            links.value[peer] = nil
        }
        for (peer, address) in peers where peer != nodeID {
            if let link = links.value[peer] {
                link.update(address: address)
            } else {
                links.value[peer] = PeerLink(peer: peer, address: address, plane: self)
            }
        }
    }

    func streamConnected(_ peer: NodeID) {
        hooks.withLock { $0.connected }?(peer)
    }

    func seal(_ plaintext: ByteBuffer) -> [UInt8] {
        keyring.seal(plaintext.readableBytesView, using: &random.value)
    }

    /// Opens a sealed frame; `nil` (counted by the caller) when it does not open.
    func open(_ sealed: ByteBuffer) -> [UInt8]? {
        try? keyring.open(sealed.readableBytesView)
    }

    func deliver(_ message: DataMessage, from peer: NodeID) {
        guard !isolated.withLock({ $0 }) else { return }
        hooks.withLock { $0.message }?(message, peer)
    }

    func answerPushPull(_ plaintext: [UInt8]) async -> [UInt8]? {
        await hooks.withLock { $0.pushPull }?(plaintext)
    }

    // MARK: Inbound connection accounting (on the loop)

    /// Admits a new inbound connection, or says why not.
    func admitInbound() -> DataPlaneMetrics.Refusal? {
        if inbound.value.all >= maxConnections { return .connectionCap }
        if inbound.value.unauthenticated >= maxUnauthenticated { return .unauthenticatedCap }
        inbound.value.all += 1
        inbound.value.unauthenticated += 1
        metrics.streamsInbound.increment()
        return nil
    }

    func inboundAuthenticated() {
        inbound.value.unauthenticated -= 1
    }

    func inboundClosed(authenticated: Bool) {
        inbound.value.all -= 1
        if !authenticated { inbound.value.unauthenticated -= 1 }
        metrics.streamsInbound.decrement()
    }

    // MARK: Running

    /// Binds the listener on `host:port` (TCP); returns its channel.
    func bind(host: String, port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundStreamHandler(plane: self))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Closes every outbound stream and stops the loop's thread.
    func shutdown() async {
        try? await loop.submit {
            for link in self.links.value.values { link.close() }
            self.links.value.removeAll()
        }.get()
        try? await group.shutdownGracefully()
    }
}
