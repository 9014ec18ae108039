import GatehouseCore
import GatehouseMembership
import GatehouseWire
import NIOCore

/// One inbound connection on the gossip TCP port. It must open, within the handshake
/// deadline, with one small sealed `hello` naming the dialling member; only then are larger
/// frames read. After the hello it is either a peer's data stream (frames decoded in order
/// and handed to the data plane as that member's) or a membership push-pull (one request
/// frame, one sealed answer, closed).
///
/// Everything runs on the data plane's loop; a frame is fully handled before the next is
/// read, so a peer that sends faster than this node applies is slowed by TCP itself.
final class InboundStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case refused
        case awaitingHello
        case stream(peer: NodeID)
        case answering
    }

    private let plane: DataPlane
    private var state = State.awaitingHello
    private var buffered: ByteBuffer?
    private var decoder = DataStreamDecoder()
    private var deadline: Scheduled<Void>?
    private var admitted = false
    private var helloReceived = false

    init(plane: DataPlane) {
        self.plane = plane
    }

    func channelActive(context: ChannelHandlerContext) {
        if let refusal = plane.admitInbound() {
            refuse(refusal, context: context)
            return
        }
        admitted = true
        let channel = context.channel
        let plane = plane
        deadline = context.eventLoop.scheduleTask(in: .milliseconds(plane.handshakeTimeoutMs)) {
            plane.metrics.countRefusal(.handshakeTimeout)
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if admitted {
            plane.inboundClosed(authenticated: helloReceived)
            admitted = false
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        plane.metrics.bytesIn.increment(by: Int64(incoming.readableBytes))
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        while case .some = buffered, !isDone {
            let limit = helloReceived ? plane.maxFrameBytes : plane.handshakeMaxFrameBytes
            let frame: ByteBuffer?
            do {
                frame = try LengthPrefixedFrameDecoder.nextFrame(&buffered!, maxFrameBytes: limit)
            } catch {
                refuse(helloReceived ? .frameTooLarge : .handshakeTooLarge, context: context)
                return
            }
            guard let frame else { break }
            plane.metrics.framesIn.increment()
            handle(frame, context: context)
        }
        if buffered?.readableBytes == 0 { buffered = nil } else { buffered?.discardReadBytes() }
    }

    private var isDone: Bool {
        switch state {
        case .refused, .answering: true
        case .awaitingHello, .stream: false
        }
    }

    private func handle(_ frame: ByteBuffer, context: ChannelHandlerContext) {
        guard let plaintext = plane.open(frame) else {
            let remote = context.channel.remoteAddress
            plane.events?.gossipAuthFailed(from: remote.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown")
            refuse(.notAuthentic, context: context)
            return
        }
        var bytes = ByteBuffer(bytes: plaintext)
        switch state {
        case .awaitingHello:
            guard bytes.getClusterHeader(at: bytes.readerIndex) == .hello, case .hello(let node)? = try? decoder.decode(bytes) else {
                refuse(.notHello, context: context)
                return
            }
            deadline?.cancel()
            deadline = nil
            helloReceived = true
            plane.inboundAuthenticated()
            state = .stream(peer: node)
        case .stream(let peer):
            if bytes.getClusterHeader(at: bytes.readerIndex) == .pushPullRequest {
                answerPushPull(plaintext, context: context)
                return
            }
            do {
                let message = try decoder.decode(bytes)
                if case .hello = message { throw GossipDecodeError(.invalidField, "a second hello") }
                plane.deliver(message, from: peer)
            } catch {
                refuse(.malformed, context: context)
            }
        case .answering, .refused:
            bytes.clear()
        }
    }

    private func answerPushPull(_ plaintext: [UInt8], context: ChannelHandlerContext) {
        state = .answering
        let channel = context.channel
        let plane = plane
        Task {
            guard let answer = await plane.answerPushPull(plaintext) else {
                try? await channel.close()
                return
            }
            var out = ByteBuffer()
            out.writeLengthPrefixedFrame(answer)
            try? await channel.writeAndFlush(out)
            try? await channel.close()
        }
    }

    private func refuse(_ reason: DataPlaneMetrics.Refusal, context: ChannelHandlerContext) {
        plane.metrics.countRefusal(reason)
        state = .refused
        buffered = nil
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
