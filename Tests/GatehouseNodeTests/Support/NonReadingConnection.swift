import GatehouseNode
import NIOCore
import NIOPosix

/// A TCP client that writes as fast as the socket takes bytes and never reads: a gateway
/// that pipelines and ignores its replies. Its receive buffer is made small so the node's
/// replies back up quickly.
final class NonReadingConnection: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func open(_ address: HostPort) async throws -> NonReadingConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: address.host, port: address.port).get()
        return NonReadingConnection(channel: channel)
    }

    var isOpen: Bool { channel.isActive }

    /// Writes `chunk` over and over while the channel takes it, until the node closes the
    /// connection or `maxBytes` are sent; returns the bytes sent.
    func flood(_ chunk: ByteBuffer, maxBytes: Int, for duration: Duration = .seconds(30)) async throws -> Int {
        var sent = 0
        let end = ContinuousClock.now + duration
        while channel.isActive && sent < maxBytes && ContinuousClock.now < end {
            if channel.isWritable {
                channel.writeAndFlush(chunk, promise: nil)
                sent += chunk.readableBytes
            } else {
                try await Task.sleep(for: .milliseconds(2))
            }
            await Task.yield()
        }
        return sent
    }

    func close() async {
        try? await channel.close()
    }
}
