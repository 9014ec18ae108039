import GatehouseNode
import NIOCore

/// The last handler of a test connection's pipeline: appends every byte that arrives to
/// `received`, for the test to read.
final class ReceivedBytesCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: LockedBox<[UInt8]>

    init(received: LockedBox<[UInt8]>) { self.received = received }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        received.withLock { $0.append(contentsOf: bytes) }
    }
}
