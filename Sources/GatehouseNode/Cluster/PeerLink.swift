import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore
import NIOPosix

/// This node's outbound data stream to one peer: a persistent TCP connection that opens
/// with a sealed `hello`, then carries whatever the peer's `DataStreamOutbox` holds, as
/// fast as the peer reads and no faster. It reconnects with backoff while the peer is live.
///
/// Lives on the data plane's event loop; every method must be called there.
final class PeerLink {
    enum State {
        case idle
        case connecting
        case open(any Channel)
        case closed
    }

    let peer: NodeID
    private(set) var address: MemberAddress
    private let plane: DataPlane
    private var state = State.idle
    private var outbox: DataStreamOutbox
    private var encoder = DataStreamEncoder()
    private var backoffMs: Int64 = 0
    private var reconnectScheduled = false
    private var reportedDrops = 0

    init(peer: NodeID, address: MemberAddress, plane: DataPlane) {
        self.peer = peer
        self.address = address
        self.plane = plane
        outbox = DataStreamOutbox(limits: plane.outboxLimits)
    }

    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// Writes `message` at once when the stream can take it and nothing waits before it;
    /// otherwise queues it and writes what the stream can take now.
    func send(_ message: DataMessage) {
        if case .open(let channel) = state, channel.isWritable, outbox.canPassStraight(message) {
            write(message, on: channel)
            channel.flush()
            return
        }
        outbox.enqueue(message)
        countDrops()
        switch state {
        case .open: flush()
        case .idle: connect()
        case .connecting, .closed: break
        }
    }

    /// The peer moved (a restart on another port); the next connection goes there.
    func update(address newAddress: MemberAddress) {
        guard newAddress != address else { return }
        address = newAddress
        if case .open(let channel) = state { channel.close(promise: nil) }
    }

    /// The peer left or died: stop for good and forget what was pending.
    func close() {
        if case .open(let channel) = state {
            plane.metrics.streamsOpen.decrement()
            channel.close(promise: nil)
        }
        state = .closed
    }

    private func connect() {
        guard case .idle = state else { return }
        state = .connecting
        let loop = plane.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        var bootstrap = ClientBootstrap(group: loop)
        if let local = plane.localAddress { bootstrap = bootstrap.bind(to: local) }
        bootstrap
            .connectTimeout(.milliseconds(plane.connectTimeoutMs))
            .channelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerLinkHandler(link: bound))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                bound.value.connected(result)
            }
    }

    private func connected(_ result: Result<any Channel, any Error>) {
        switch result {
        case .success(let channel):
            guard case .connecting = state else {
                channel.close(promise: nil)
                return
            }
            state = .open(channel)
            encoder = DataStreamEncoder()
            backoffMs = 0
            plane.metrics.connects.increment()
            plane.metrics.streamsOpen.increment()
            write(.hello(node: plane.nodeID), on: channel)
            channel.flush()
            plane.streamConnected(peer)
            flush()
        case .failure:
            plane.metrics.connectFailures.increment()
            if case .connecting = state { state = .idle }
            scheduleReconnect()
        }
    }

    /// The connection ended (peer gone, restarted, or cut off).
    func disconnected() {
        guard case .open = state else { return }
        plane.metrics.streamsOpen.decrement()
        state = .idle
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard !reconnectScheduled, case .idle = state else { return }
        reconnectScheduled = true
        backoffMs = min(max(100, backoffMs * 2), plane.maxBackoffMs)
        let jittered = backoffMs / 2 + Int64.random(in: 0...(backoffMs / 2))
        let bound = NIOLoopBound(self, eventLoop: plane.loop)
        plane.loop.scheduleTask(in: .milliseconds(jittered)) {
            let link = bound.value
            link.reconnectScheduled = false
            // Reconnect only when there is something to say; the next send connects otherwise.
            if case .idle = link.state, !link.outbox.isEmpty { link.connect() }
        }
    }

    /// Writes batches while the channel is writable; the rest waits in the outbox, where
    /// newer state replaces older.
    func flush() {
        guard case .open(let channel) = state else { return }
        var wrote = false
        while channel.isWritable {
            let batch = outbox.takeBatch()
            if batch.isEmpty { break }
            for message in batch { write(message, on: channel) }
            wrote = true
        }
        if wrote { channel.flush() }
    }

    private func write(_ message: DataMessage, on channel: any Channel) {
        // Records frames change no encoder state, so one too large for the peer's decoder
        // is cut in halves until each fits (a single record always fits: KeyRules bound it).
        if case .records(let records) = message, records.count > 1 {
            let plaintext = encoder.encode(message)
            guard plaintext.readableBytes <= encoder.limits.maxFrameBytes else {
                let half = records.count / 2
                write(.records(Array(records[..<half])), on: channel)
                write(.records(Array(records[half...])), on: channel)
                return
            }
            writeFrame(plaintext, on: channel)
            return
        }
        let plaintext = encoder.encode(message)
        writeFrame(plaintext, on: channel)
        if case .counters = message { plane.metrics.counterBytesOut.increment(by: Int64(plaintext.readableBytes)) }
    }

    private func writeFrame(_ plaintext: ByteBuffer, on channel: any Channel) {
        let sealed = plane.seal(plaintext)
        var frame = channel.allocator.buffer(capacity: sealed.count + 4)
        frame.writeLengthPrefixedFrame(sealed)
        plane.metrics.framesOut.increment()
        plane.metrics.bytesOut.increment(by: Int64(frame.readableBytes))
        channel.write(frame, promise: nil)
    }

    private func countDrops() {
        let dropped = outbox.dropped
        if dropped > reportedDrops {
            plane.metrics.outboxDropped.increment(by: Int64(dropped - reportedDrops))
            reportedDrops = dropped
        }
    }
}

/// The outbound stream's pipeline end: writability and closure go to the link; the peer
/// never writes on this stream, so anything it sends is discarded.
final class PeerLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let link: NIOLoopBound<PeerLink>

    init(link: NIOLoopBound<PeerLink>) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { link.value.flush() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.value.disconnected()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
