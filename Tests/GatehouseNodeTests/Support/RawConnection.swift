import GatehouseNode
import NIOCore
import NIOPosix

/// A TCP connection that sends arbitrary bytes and collects whatever comes back: for
/// feeding the RESP server things no well-behaved client would send.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let received: LockedBox<[UInt8]>

    private init(channel: any Channel, received: LockedBox<[UInt8]>) {
        self.channel = channel
        self.received = received
    }

    static func open(_ address: HostPort) async throws -> RawConnection {
        let received = LockedBox<[UInt8]>([])
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReceivedBytesCollector(received: received))
                }
            }
            .connect(host: address.host, port: address.port).get()
        return RawConnection(channel: channel, received: received)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    var text: String { String(decoding: received.withLock { $0 }, as: UTF8.self) }
    var isOpen: Bool { channel.isActive }

    /// Waits (up to `seconds`) until the reply text satisfies `condition`; returns the text.
    func waitFor(seconds: Double = 30, _ condition: (String) -> Bool) async throws -> String {
        _ = try await waitUntil(timeout: .milliseconds(Int(seconds * 1000))) { condition(text) }
        return text
    }

    /// Waits until the server closes the connection; true if it did within `seconds`.
    func waitForClose(seconds: Double = 30) async throws -> Bool {
        try await waitUntil(timeout: .milliseconds(Int(seconds * 1000))) { !channel.isActive }
    }

    func close() async {
        try? await channel.close()
    }
}
