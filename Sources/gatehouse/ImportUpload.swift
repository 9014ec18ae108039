import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Sends an import's requests over `connections` kept-alive HTTP/1.1 connections through
/// SwiftNIO's HTTP codec, each connection taking the next unsent body when its answer is in.
/// Two in flight let the node decode one request's lines while it writes the other's keys (a
/// request at a time left one of two cores idle: 30,000 keys/s where the node's CPU per key
/// allows more). URLSession on Linux spent ~100 µs of CPU per imported key handing bodies and
/// answers between threads (perf of `gatehouse keys import`: libdispatch and curl hand-offs).
/// Plain `http://` only; the CLI keeps URLSession for `https://`.
enum ImportUpload {
    struct Answer: Sendable {
        var status: Int
        var body: Data
    }

    /// What became of the bodies: `answer` took each one answered, in the order of the bodies
    /// as far as none is missing; `unanswered` are the rest — sent without an answer, answered
    /// with a refusal `answer` threw on, or never sent once `firstError` stopped the upload.
    struct Outcome {
        var unanswered: [Int] = []
        var firstError: (any Error)?
    }

    private enum Report: Sendable {
        case answered(Int, Answer)
        case failed(any Error)
    }

    static func post(
        bodies: [Data], host: String, port: Int, path: String, token: String, connections: Int,
        answer: (Int, Answer) throws -> Void
    ) async -> Outcome {
        let dispenser = Dispenser(count: bodies.count)
        let (reports, reporter) = AsyncStream.makeStream(of: Report.self)
        let workers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, min(connections, bodies.count)) {
                    group.addTask {
                        do {
                            try await upload(host: host, port: port, path: path, token: token, bodies: bodies) {
                                dispenser.claim()
                            } answered: { index, answer in
                                reporter.yield(.answered(index, answer))
                            }
                        } catch {
                            dispenser.stop()
                            reporter.yield(.failed(error))
                        }
                    }
                }
            }
            reporter.finish()
        }
        var outcome = Outcome()
        var waiting: [Int: Answer] = [:]
        var delivered = Set<Int>()
        var nextInOrder = 0
        func deliver(_ index: Int, _ received: Answer) {
            do {
                try answer(index, received)
                delivered.insert(index)
            } catch {
                dispenser.stop()
                if outcome.firstError == nil { outcome.firstError = error }
            }
        }
        for await report in reports {
            switch report {
            case .answered(let index, let received):
                waiting[index] = received
                while let ready = waiting.removeValue(forKey: nextInOrder) {
                    deliver(nextInOrder, ready)
                    nextInOrder += 1
                }
            case .failed(let error):
                if outcome.firstError == nil { outcome.firstError = error }
            }
        }
        await workers.value
        // Answers behind a body that got none still carry secrets shown only once.
        for index in waiting.keys.sorted() { deliver(index, waiting[index]!) }
        outcome.unanswered = bodies.indices.filter { !delivered.contains($0) }
        return outcome
    }

    /// Hands out the bodies' indices in order, to whichever connection is free, until all
    /// are sent or the upload stops after an error.
    private final class Dispenser: Sendable {
        private let next = Mutex(0)
        private let stopped = Atomic<Bool>(false)
        private let count: Int

        init(count: Int) {
            self.count = count
        }

        func claim() -> Int? {
            guard !stopped.load(ordering: .relaxed) else { return nil }
            return next.withLock { next in
                guard next < count else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func stop() {
            stopped.store(true, ordering: .relaxed)
        }
    }

    /// One connection: sends the bodies `next` hands out, one at a time, until it hands out nil.
    private static func upload(
        host: String, port: Int, path: String, token: String, bodies: [Data],
        next: () -> Int?, answered: (Int, Answer) -> Void
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
            while let index = next() {
                let body = bodies[index]
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
                answered(index, Answer(status: status, body: Data(received.readableBytesView)))
            }
        }
    }
}
