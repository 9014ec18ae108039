import GatehouseNode
import NIOCore
import NIOPosix
import NIOSSL

/// A TLS client connection that trusts the test CA, sends raw RESP and collects the replies,
/// and tells which certificate it was served: for holding a connection open across a
/// certificate reload.
final class TLSTestConnection: Sendable {
    private let channel: any Channel
    private let received: LockedBox<[UInt8]>

    private init(channel: any Channel, received: LockedBox<[UInt8]>) {
        self.channel = channel
        self.received = received
    }

    static func open(_ address: HostPort, caFile: String, certificateFile: String? = nil, keyFile: String? = nil) async throws -> TLSTestConnection {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        // The name is checked by the real clients' tests; this one checks the chain.
        configuration.certificateVerification = .noHostnameVerification
        if let certificateFile, let keyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        }
        let context = try NIOSSLContext(configuration: configuration)
        let received = LockedBox<[UInt8]>([])
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(ReceivedBytesCollector(received: received))
                }
            }
            .connect(host: address.host, port: address.port).get()
        return TLSTestConnection(channel: channel, received: received)
    }

    /// Sends `arguments` as a RESP command and waits for the replies since to contain
    /// `expected`; false if they do not within `seconds`, or the connection fails.
    func command(_ arguments: [String], expecting expected: String, seconds: Double = 10) async throws -> Bool {
        received.withLock { $0.removeAll() }
        var text = "*\(arguments.count)\r\n"
        for argument in arguments { text += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        do {
            try await channel.writeAndFlush(ByteBuffer(string: text))
        } catch {
            // A failed handshake fails the writes that waited for it.
            return false
        }
        return try await waitFor(expected, seconds: seconds)
    }

    /// Waits for what was received to contain `expected`.
    func waitFor(_ expected: String, seconds: Double = 30) async throws -> Bool {
        let received = received
        let channel = channel
        func holds() -> Bool { String(decoding: received.withLock { $0 }, as: UTF8.self).contains(expected) }
        // A closed connection receives nothing more: stop waiting, and answer from what came.
        _ = try await waitUntil(timeout: .milliseconds(Int(seconds * 1000))) { holds() || !channel.isActive }
        return holds()
    }

    /// The serial of the certificate this connection was served (after its handshake).
    func servedSerial() async throws -> String? {
        let channel = channel
        let bytes = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate?.serialNumber
        }.get()
        return bytes.map { $0.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined() }
    }

    var isOpen: Bool { channel.isActive }

    func close() async {
        try? await channel.close()
    }
}
