import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// The deadlines and size cap of one HTTP connection, seen as bytes: a request starts with
/// the first byte after the last response and must be answered within the frame timeout,
/// and the bytes of one unanswered request (headers and body) are capped. Pure, like
/// `RESPConnectionStateMachine`; `HTTPConnectionGuard` performs its actions.
///
/// Response backpressure needs nothing here: Hummingbird's `NIOAsyncChannel` writes only
/// while the channel is writable and stops reading while a request is not consumed.
struct HTTPConnectionStateMachine: Sendable {
    enum Action: Sendable, Equatable {
        case none
        case close(ConnectionCloseReason)
    }

    let maxRequestBytes: Int
    /// The cap of a bulk import request (`POST /v1/keys/import`), whose body may be larger.
    let maxImportRequestBytes: Int
    private(set) var deadlines: ConnectionDeadlines
    /// Bytes received since the last response began.
    private(set) var unansweredBytes = 0
    /// Whether the request being received opened with the import's request line.
    private(set) var receivingImport = false
    private(set) var isClosed = false

    /// The request line that lets a request be as large as `maxImportRequestBytes`. Only the
    /// first bytes of a request are compared (no parsing: the HTTP decoder behind does that);
    /// the route still refuses a request without the admin token before reading its body.
    static let importRequestLine = Array("POST \(HTTPAPI.importPath) ".utf8)

    init(settings: ConnectionSettings, maxRequestBytes: Int, maxImportRequestBytes: Int? = nil, openedAt now: Int64) {
        self.maxRequestBytes = maxRequestBytes
        self.maxImportRequestBytes = max(maxRequestBytes, maxImportRequestBytes ?? maxRequestBytes)
        deadlines = ConnectionDeadlines(
            timeouts: .init(idleMs: settings.httpIdleTimeoutMs, authMs: 0, frameMs: settings.frameTimeoutMs, stallMs: 0, authRequired: false),
            openedAt: now)
    }

    /// `opening`: the first bytes of this read, compared with the import's request line when
    /// a request starts with them.
    mutating func bytesRead(_ count: Int, opening: some Collection<UInt8> = EmptyCollection(), at now: Int64) -> Action {
        guard !isClosed else { return .none }
        deadlines.active(at: now)
        deadlines.frame(partial: true, progressed: false, at: now)
        if unansweredBytes == 0 { receivingImport = opening.starts(with: Self.importRequestLine) }
        unansweredBytes += count
        guard unansweredBytes > (receivingImport ? maxImportRequestBytes : maxRequestBytes) else { return .none }
        isClosed = true
        return .close(.requestTooLarge)
    }

    /// Response bytes went out: the request in flight is answered.
    mutating func responseWritten(at now: Int64) {
        unansweredBytes = 0
        deadlines.active(at: now)
        deadlines.frame(partial: false, progressed: false, at: now)
    }

    mutating func timerFired(at now: Int64) -> Action {
        guard !isClosed, let reason = deadlines.expired(at: now) else { return .none }
        isClosed = true
        return .close(reason)
    }

    mutating func closed() {
        isClosed = true
    }

    var nextDeadline: Int64? { isClosed ? nil : deadlines.next }
}

/// Sits first in an HTTP connection's pipeline, on raw bytes: admits the connection under
/// the listener's caps, and closes it for the reasons `HTTPConnectionStateMachine` gives,
/// counting each.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var machine: HTTPConnectionStateMachine
    private let registry: ConnectionRegistry
    private let metrics: NodeMetrics
    private var started = false
    private var timer = DeadlineTimer()

    init(machine: HTTPConnectionStateMachine, registry: ConnectionRegistry, metrics: NodeMetrics) {
        self.machine = machine
        self.registry = registry
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if case .refused(let reason) = registry.admit(context.channel, authenticated: true) {
            machine.closed()
            metrics.countClose(.http, reason)
            var refusal = context.channel.allocator.buffer(capacity: 96)
            refusal.writeString("HTTP/1.1 503 Service Unavailable\r\n\(APIVersion.headerName): \(APIVersion.current)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(refusal))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        metrics.httpConnectionsOpen.increment()
        let gauge = metrics.httpConnectionsOpen
        context.channel.closeFuture.whenComplete { _ in gauge.decrement() }
        armTimer(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !machine.isClosed else { return }
        let bytes = unwrapInboundIn(data)
        let opening = bytes.readableBytesView.prefix(HTTPConnectionStateMachine.importRequestLine.count)
        if case .close(let reason) = machine.bytesRead(bytes.readableBytes, opening: opening, at: now(context)) {
            close(reason, context: context)
            return
        }
        armTimer(context: context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        machine.responseWritten(at: now(context))
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        timer.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer.cancel()
    }

    private func close(_ reason: ConnectionCloseReason, context: ChannelHandlerContext) {
        machine.closed()
        timer.cancel()
        metrics.countClose(.http, reason)
        context.close(promise: nil)
    }

    private func now(_ context: ChannelHandlerContext) -> Int64 {
        DeadlineTimer.now(context.eventLoop)
    }

    private func armTimer(context: ChannelHandlerContext) {
        timer.arm(at: machine.nextDeadline, on: context.eventLoop) { [self] in
            timer.fired()
            if case .close(let reason) = machine.timerFired(at: now(context)) {
                close(reason, context: context)
            } else {
                armTimer(context: context)
            }
        }
    }
}

/// Hummingbird's HTTP/1.1 child channel with `HTTPConnectionGuard` in front, and TLS in
/// front of that when configured.
///
/// Unlike HummingbirdTLS's `TLSChannel`, which fixes one `NIOSSLContext` when the server is
/// built, each connection asks `tls` for the context current when it is accepted, so a
/// certificate reloaded on SIGHUP is served to new connections while open ones keep theirs.
struct GuardedHTTP1Channel: ServerChildChannel {
    let inner: HTTP1Channel
    let settings: ConnectionSettings
    let maxRequestBytes: Int
    let maxImportRequestBytes: Int
    let registry: ConnectionRegistry
    let metrics: NodeMetrics
    /// `nil`: plain HTTP.
    let tls: TLSContextProvider?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        do {
            if let tls {
                // The guard behind TLS counts and times decrypted bytes; the handshake has
                // its own deadline, the frame timeout.
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                try channel.pipeline.syncOperations.addHandler(TLSHandshakeGuard(
                    timeoutMs: settings.frameTimeoutMs, listener: .http, metrics: metrics, logger: logger))
            }
            let openedAt = DeadlineTimer.now(channel.eventLoop)
            let machine = HTTPConnectionStateMachine(
                settings: settings, maxRequestBytes: maxRequestBytes, maxImportRequestBytes: maxImportRequestBytes, openedAt: openedAt)
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionGuard(machine: machine, registry: registry, metrics: metrics))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 behind the node's connection caps and deadlines, over TLS when `tls` is set.
    /// `maxBodyBytes` plus room for headers bounds one unanswered request; `maxImportBodyBytes`
    /// one that opens with the bulk import's request line.
    static func guardedHTTP1(
        settings: ConnectionSettings, maxBodyBytes: Int, maxImportBodyBytes: Int? = nil, metrics: NodeMetrics, tls: TLSContextProvider? = nil
    ) -> HTTPServerBuilder {
        let registry = ConnectionRegistry(caps: .init(
            maxConnections: settings.httpMaxConnections, maxUnauthenticated: settings.httpMaxConnections,
            maxPerSource: settings.maxPerSource))
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration()
        return HTTPServerBuilder { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(responder: responder), settings: settings,
                maxRequestBytes: maxBodyBytes + decoder.maxHeaderListSize + 4 * 1024,
                maxImportRequestBytes: (maxImportBodyBytes ?? maxBodyBytes) + decoder.maxHeaderListSize + 4 * 1024, registry: registry,
                metrics: metrics, tls: tls)
        }
    }
}
