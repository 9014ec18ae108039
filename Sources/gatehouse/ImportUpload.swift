import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends an import's requests, one after the other, over one kept-alive HTTP/1.1 connection
/// through SwiftNIO's HTTP codec. URLSession on Linux spent ~100 µs of CPU per imported key
/// handing 5,000-line bodies and their answers between threads (perf of `gatehouse keys
/// import`: libdispatch and curl hand-offs), twice what the node spent importing them.
/// Plain `http://` only; the CLI keeps URLSession for `https://`.
enum ImportUpload {
    struct Answer {
        var status: Int
        var body: Data
    }

    static func post(
        bodies: [Data], host: String, port: Int, path: String, token: String, answer: (Answer) throws -> Void
    ) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            for body in bodies {
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: "\(host):\(port)")
                head.headers.add(name: "Authorization", value: "Bearer \(token)")
                head.headers.add(name: "Content-Type", value: "application/x-ndjson")
                head.headers.add(name: "Content-Length", value: String(body.count))
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                var status = 0
                var received = ByteBuffer()
                reading: while let part = try await responses.next() {
                    switch part {
                    case .head(let response): status = Int(response.status.code)
                    case .body(var bytes): received.writeBuffer(&bytes)
                    case .end: break reading
                    }
                }
                guard status != 0 else { throw CLIError("the node closed the connection before answering") }
                try answer(Answer(status: status, body: Data(received.readableBytesView)))
            }
        }
    }
}
