import GatehouseMembership
import GatehouseWire
import NIOCore
import NIOPosix

/// The client side of a push-pull: connect, send the frames (a sealed `hello`, then the
/// request), read one frame, close.
enum PushPullClient {
    static func exchange(
        _ frames: [[UInt8]], with address: MemberAddress, from local: SocketAddress?, group: any EventLoopGroup, maxFrameBytes: Int, timeoutMs: Int64
    ) async throws -> ByteBuffer {
        // One loop for the promise and the channel: a promise is completed on its own loop.
        let loop = group.next()
        let promise = loop.makePromise(of: ByteBuffer.self)
        var bootstrap = ClientBootstrap(group: loop)
        if let local { bootstrap = bootstrap.bind(to: local) }
        let connecting = bootstrap
            .connectTimeout(.milliseconds(timeoutMs))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(FrameCollector(promise: promise))
                }
            }
            .connect(host: address.host, port: address.port)
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            // The promise was made for a channel that never came: fail it, or it leaks.
            promise.fail(error)
            throw error
        }
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
            promise.fail(PushPullError.timedOut)
            channel.close(promise: nil)
        }
        var out = ByteBuffer()
        for payload in frames { out.writeLengthPrefixedFrame(payload) }
        channel.writeAndFlush(out, promise: nil)
        defer {
            timeout.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    final class FrameCollector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<ByteBuffer>

        init(promise: EventLoopPromise<ByteBuffer>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            promise.succeed(unwrapInboundIn(data))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(PushPullError.closed)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
