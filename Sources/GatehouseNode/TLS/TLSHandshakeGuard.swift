import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sits right behind the `NIOSSLServerHandler` of a client connection until its handshake
/// completes: closes a connection whose handshake is not done within the deadline (bytes
/// that never come, or come too slowly, would otherwise hold a socket until the idle
/// deadline, which only counts decrypted bytes), and counts failed handshakes. Then it
/// removes itself, so an established connection pays nothing for it.
///
/// The deadline is the listener's frame timeout: like a command, a handshake must arrive
/// whole within that long. A failed handshake's error is not passed on: the connection is
/// closing, and the handlers behind have seen nothing of it.
final class TLSHandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeoutMs: Int64
    private let listener: ClientListener
    private let metrics: NodeMetrics
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var finished = false

    init(timeoutMs: Int64, listener: ClientListener, metrics: NodeMetrics, logger: Logger) {
        self.timeoutMs = timeoutMs
        self.listener = listener
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil, !finished, timeoutMs > 0 else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(timeoutMs)) { [self] in
            timer = nil
            guard !finished else { return }
            finished = true
            metrics.countClose(listener, .tlsHandshakeTimeout)
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, !finished {
            finished = true
            timer?.cancel()
            timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !finished, error is NIOSSLError || error is BoringSSLError else {
            context.fireErrorCaught(error)
            return
        }
        finished = true
        timer?.cancel()
        timer = nil
        metrics.countClose(listener, .tlsHandshakeFailed)
        logger.debug("TLS handshake failed", metadata: [
            "listener": "\(listener.rawValue)", "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)",
        ])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
