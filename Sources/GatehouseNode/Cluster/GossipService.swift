import GatehouseCore
import GatehouseMembership
import GatehouseWire
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The shell around `MembershipInstance`: UDP for probes and membership gossip, TCP
/// push-pulls for joins, timers — all on an event loop of its own that no RESP, HTTP or
/// data traffic shares, so load never delays a probe or its ack. It only moves bytes and
/// time; every decision is the instance's. Records and counters travel on the data plane
/// (`DataPlane`), which listens on the same port number over TCP.
///
/// All membership state lives on `loop`; everything else hops there.
public final class GossipService: Service, Sendable {
    public let nodeID: NodeID
    let config: ClusterConfig
    let keyring: ClusterKeyring
    let metrics: ClusterMetrics
    let logger: Logger
    let group: any EventLoopGroup
    /// The membership's own thread.
    private let membershipGroup: MultiThreadedEventLoopGroup
    /// The raw wall clock: failure detection and the clock comparison run on it.
    let now: @Sendable () -> Int64
    /// Told the cluster's time as the probes measure it, to answer on it when ours is off.
    private let clock: ClusterClock?
    /// Gossip that does not authenticate and members failing are security events.
    private let events: SecurityEventLog?
    let loop: any EventLoop
    /// Records, counters and anti-entropy: the per-peer streams.
    let dataPlane: DataPlane
    private let state: NIOLoopBoundBox<State>
    private let channels = LockedBox<(udp: (any Channel)?, tcp: (any Channel)?)>((nil, nil))
    private let bound = LockedBox<MemberAddress?>(nil)
    /// Fault injection for tests: while set, every gossip packet and sync exchange of this
    /// node is dropped, as if it were cut off from the network.
    private let isolated = LockedBox(false)

    /// Cuts this node off the cluster network (`true`) or reconnects it; tests only.
    public func setIsolated(_ value: Bool) {
        isolated.withLock { $0 = value }
        dataPlane.setIsolated(value)
    }

    var isIsolated: Bool { isolated.withLock { $0 } }
    /// In a struct for the reason `KeyService.WriteListener` is: a bare function value behind
    /// `withLock` grows reabstraction thunks on every access.
    private struct BoundCallback: Sendable {
        let notify: @Sendable () -> Void
    }

    private let boundCallback = LockedBox<BoundCallback?>(nil)

    /// Called once the listeners are bound.
    public func whenBound(_ callback: @escaping @Sendable () -> Void) {
        boundCallback.withLock { $0 = BoundCallback(notify: callback) }
    }

    struct State {
        var instance: MembershipInstance
        var resolved: [MemberAddress: SocketAddress] = [:]
        var reportedStats = MembershipStats()
        var stopped = false
        var random = SystemRandomNumberGenerator()
    }

    public init(
        nodeID: String, config: ClusterConfig, clusterName: String, metrics: ClusterMetrics, dataMetrics: DataPlaneMetrics,
        logger: Logger, group: any EventLoopGroup, now: @escaping @Sendable () -> Int64, clock: ClusterClock? = nil,
        events: SecurityEventLog? = nil
    ) throws {
        self.events = events
        self.nodeID = NodeID(nodeID)
        self.clock = clock
        self.config = config
        keyring = try ClusterKeyring(base64Keys: config.gossipKeys, clusterName: clusterName)
        self.metrics = metrics
        self.logger = logger
        self.group = group
        self.now = now
        membershipGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = membershipGroup.next()
        ClusterThreadPriority.set(loop, nice: ClusterThreadPriority.failureDetection, logger: logger)
        dataPlane = DataPlane(
            nodeID: NodeID(nodeID), keyring: keyring, metrics: dataMetrics, logger: logger, localHost: config.gossipAddress.host,
            maxFrameBytes: config.maxSyncFrameBytes,
            handshakeTimeoutMs: config.handshakeTimeoutMs, maxConnections: config.maxPeerConnections,
            maxUnauthenticated: config.maxUnauthenticatedPeerConnections, events: events)
        let address = MemberAddress(host: config.gossipAddress.host, port: config.gossipAddress.port)
        let instance = MembershipInstance(
            id: NodeID(nodeID), address: address, settings: config.membership, seed: UInt64.random(in: 0...UInt64.max),
            incarnation: UInt64(max(0, now())))
        state = NIOLoopBoundBox.makeBoxSendingValue(State(instance: instance), eventLoop: loop)
    }

    // MARK: Views (any thread)

    /// This node and every member it knows, as of now.
    public func members() async -> [Member] {
        (try? await loop.submit { self.state.value.instance.snapshot() }.get()) ?? []
    }

    /// The address the gossip listener actually bound (the config may say port 0).
    public var boundAddress: MemberAddress? { bound.withLock { $0 } }

    /// Members currently alive or suspect, this node excluded.
    public func liveMembers() async -> [Member] {
        await members().dropFirst().filter { $0.status.isActive }
    }

    // MARK: Running

    public func run() async throws {
        let udp = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: config.udpReceiveBufferBytes)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GossipDatagramHandler(service: self))
                }
            }
            .bind(host: config.gossipAddress.host, port: config.gossipAddress.port)
            .get()
        let port = udp.localAddress?.port ?? config.gossipAddress.port
        // Linux doubles what it grants and caps the request at net.core.rmem_max; report the truth.
        let granted = (try? await udp.getOption(ChannelOptions.socketOption(.so_rcvbuf)).get()) ?? 0
        dataPlane.metrics.udpReceiveBuffer.set(to: Double(granted))
        if granted < config.udpReceiveBufferBytes {
            logger.warning("the kernel granted a smaller UDP receive buffer than asked; raise net.core.rmem_max", metadata: [
                "asked_bytes": "\(config.udpReceiveBufferBytes)", "granted_bytes": "\(granted)",
            ])
        }
        dataPlane.onPushPull { [weak self] plaintext in await self?.answerPushPull(plaintext) }
        let tcp = try await dataPlane.bind(host: config.gossipAddress.host, port: port)
        channels.withLock { $0 = (udp, tcp) }
        bound.withLock { $0 = MemberAddress(host: config.gossipAddress.host, port: port) }
        boundCallback.withLock { $0 }?.notify()
        logger.info("gossip listening", metadata: [
            "address": "\(config.gossipAddress.host):\(port)", "udp_receive_buffer_bytes": "\(granted)",
        ])
        try await loop.submit {
            self.perform(self.state.value.instance.onStart(nowMs: self.now()))
        }.get()
        let joining = Task { await self.joinSeeds() }
        // Waiting on a close future ignores task cancellation; when the service group cancels
        // (another service ended, or shutdown timed out) the sockets must close here, or
        // `run` would never return and the node would never stop.
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await udp.closeFuture.get()
            } onGracefulShutdown: {
                joining.cancel()
                self.leaveAndClose()
            }
        } onCancel: {
            joining.cancel()
            udp.close(promise: nil)
            tcp.close(promise: nil)
        }
        joining.cancel()
        try? await tcp.closeFuture.get()
        await dataPlane.shutdown()
        try? await membershipGroup.shutdownGracefully()
    }

    /// Announces the leave, gives it two gossip rounds to spread, then closes the sockets.
    private func leaveAndClose() {
        loop.execute {
            self.perform(self.state.value.instance.onLeave(nowMs: self.now()))
            self.loop.scheduleTask(in: .milliseconds(self.config.membership.gossipIntervalMs * 2)) {
                self.state.value.stopped = true
                let open = self.channels.withLock { $0 }
                open.udp?.close(promise: nil)
                open.tcp?.close(promise: nil)
            }
        }
    }

    /// Tries the seeds with backoff until one push-pull succeeds (or there is no other seed).
    private func joinSeeds() async {
        let me = boundAddress
        let seeds = config.seeds.map { MemberAddress(host: $0.host, port: $0.port) }.filter { $0 != me }
        guard !seeds.isEmpty else { return }
        var delayMs: Int64 = 250
        while !Task.isCancelled {
            for seed in seeds {
                do {
                    try await pushPull(with: seed)
                    logger.info("joined the cluster", metadata: ["seed": "\(seed)"])
                    return
                } catch {
                    logger.debug("seed did not answer", metadata: ["seed": "\(seed)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(delayMs))
            delayMs = min(delayMs * 2, 10_000)
        }
    }

    // MARK: Directives (on loop)

    func perform(_ directives: [MembershipDirective]) {
        loop.preconditionInEventLoop()
        guard !state.value.stopped else { return }
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                send(message, to: address)
            case .schedule(let timer, let afterMs):
                loop.scheduleTask(in: .milliseconds(afterMs)) {
                    guard !self.state.value.stopped else { return }
                    self.perform(self.state.value.instance.onTimer(timer, nowMs: self.now()))
                }
            case .memberChanged(let member, let previous):
                if member.status == .suspect || member.status == .dead, previous != member.status {
                    events?.memberChanged(member.id.description, address: "\(member.address)", dead: member.status == .dead)
                }
                logger.info("member changed", metadata: [
                    "member": "\(member.id)", "state": "\(member.status)", "previous": "\(previous.map(\.description) ?? "new")",
                    "incarnation": "\(member.incarnation)",
                ])
            case .deliver:
                // Application data travels on the data plane; nothing rides the piggyback.
                break
            case .pushPull(let address):
                Task { try? await self.pushPull(with: address) }
            }
        }
        let stats = state.value.instance.stats
        metrics.record(stats, since: state.value.reportedStats)
        state.value.reportedStats = stats
        var counts: [MemberStatus: Int] = [.alive: 1]
        for member in state.value.instance.members.values { counts[member.status, default: 0] += 1 }
        metrics.setMembers(counts)
        let instance = state.value.instance
        clock?.observe(clusterOffsetMs: instance.clusterClockOffsetMs(nowMs: now()), members: instance.clockOffsets.samples.count)
    }

    private func send(_ message: MembershipMessage, to address: MemberAddress) {
        guard !isIsolated, let udp = channels.withLock({ $0.udp }), let remote = resolve(address) else { return }
        let plaintext = GossipCodec.encode(message)
        let sealed = keyring.seal(plaintext.readableBytesView, using: &state.value.random)
        metrics.bytesOut.increment(by: Int64(sealed.count))
        metrics.packetsOut.increment()
        udp.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: sealed)), promise: nil)
    }

    private func resolve(_ address: MemberAddress) -> SocketAddress? {
        if let known = state.value.resolved[address] { return known }
        guard let resolved = try? SocketAddress.makeAddressResolvingHost(address.host, port: address.port) else {
            logger.warning("cannot resolve member address", metadata: ["address": "\(address)"])
            return nil
        }
        state.value.resolved[address] = resolved
        return resolved
    }

    /// A datagram from the network, on the loop: authenticate, decode, hand to the instance.
    func receive(_ datagram: ByteBuffer, from sender: SocketAddress? = nil) {
        guard !isIsolated else { return }
        metrics.bytesIn.increment(by: Int64(datagram.readableBytes))
        metrics.packetsIn.increment()
        guard datagram.readableBytes <= config.membership.maxDatagramBytes else {
            metrics.countDrop(.oversized)
            return
        }
        guard let plaintext = open(datagram.readableBytesView, from: sender) else { return }
        do {
            let message = try GossipCodec.decode(ByteBuffer(bytes: plaintext))
            perform(state.value.instance.onMessage(message, nowMs: now()))
        } catch {
            metrics.countDrop(.malformed)
        }
    }

    /// Opens a sealed packet or frame, counting why when it cannot be.
    func open(_ sealed: some Collection<UInt8>, from sender: SocketAddress? = nil) -> [UInt8]? {
        do {
            return try keyring.open(sealed)
        } catch {
            switch error {
            case .truncated: metrics.countDrop(.truncated)
            case .unknownVersion: metrics.countDrop(.unknownVersion)
            case .notAuthentic:
                metrics.countDrop(.notAuthentic)
                events?.gossipAuthFailed(from: sender.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown")
            }
            return nil
        }
    }

    // MARK: Push-pull

    /// A full state exchange over TCP: send our view, merge theirs.
    func pushPull(with address: MemberAddress) async throws {
        guard !isIsolated else { throw PushPullError.closed }
        do {
            let frames = try await loop.submit { [self.sealedHello(), self.sealedSnapshot(isResponse: false)] }.get()
            let answer = try await PushPullClient.exchange(
                frames, with: address, from: dataPlane.localAddress, group: group, maxFrameBytes: config.maxSyncFrameBytes, timeoutMs: 3_000)
            guard let plaintext = open(answer.readableBytesView) else { throw PushPullError.notAuthentic }
            let snapshot: (members: [Member], isResponse: Bool)
            do {
                snapshot = try GossipCodec.decodeSnapshot(ByteBuffer(bytes: plaintext))
            } catch {
                metrics.countDrop(.malformed)
                throw PushPullError.malformed
            }
            guard snapshot.isResponse else { throw PushPullError.malformed }
            try await loop.submit { self.perform(self.state.value.instance.onPushPull(snapshot.members, nowMs: self.now())) }.get()
            metrics.pushPulls.increment()
        } catch {
            metrics.pushPullFailures.increment()
            throw error
        }
    }

    /// On the loop: our snapshot, encoded and sealed as one frame's content.
    func sealedSnapshot(isResponse: Bool) -> [UInt8] {
        let encoded = GossipCodec.encodeSnapshot(state.value.instance.snapshot(), isResponse: isResponse)
        return keyring.seal(encoded.readableBytesView, using: &state.value.random)
    }

    /// On the loop: the `hello` that opens every connection to a peer's TCP port.
    func sealedHello() -> [UInt8] {
        var encoder = DataStreamEncoder()
        return keyring.seal(encoder.encode(.hello(node: nodeID)).readableBytesView, using: &state.value.random)
    }

    /// A push-pull request (opened by the data plane, after the connection's `hello`): merge
    /// the peer's view and answer with ours, sealed.
    func answerPushPull(_ plaintext: [UInt8]) async -> [UInt8]? {
        guard !isIsolated else { return nil }
        guard let request = try? GossipCodec.decodeSnapshot(ByteBuffer(bytes: plaintext)), !request.isResponse else {
            metrics.countDrop(.malformed)
            return nil
        }
        return try? await loop.submit {
            let answer = self.sealedSnapshot(isResponse: true)
            self.perform(self.state.value.instance.onPushPull(request.members, nowMs: self.now()))
            return answer
        }.get()
    }
}

enum PushPullError: Error {
    case notAuthentic, malformed, timedOut, closed
}

/// Receives gossip datagrams on the membership loop.
final class GossipDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let service: GossipService

    init(service: GossipService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        service.receive(envelope.data, from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP read error (e.g. ICMP unreachable) concerns one packet, not the socket.
    }
}
