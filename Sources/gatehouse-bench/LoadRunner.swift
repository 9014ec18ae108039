import Foundation
import NIOCore
import NIOPosix

/// Opens the connections of a run (spread round-robin over the addresses), starts them
/// together, shows progress, and merges what each measured.
struct LoadRunner {
    var addresses: [Endpoint]
    var connections: Int
    var threads: Int
    var pipeline: Int
    /// Total requests per second over all connections in open-loop mode; `nil` for closed loop.
    var rate: Double?
    /// Open loop: the step of the grid its timers wake on, ns (0: at each due time).
    var wakeGridNs: UInt64 = 0
    var durationSeconds: Double?
    var requests: Int?
    var warmupSeconds: Double
    /// How long replies may still arrive after the last send (`StartLoad.drainGraceNs`).
    var drainGraceNs: UInt64 = 5_000_000_000
    var seed: UInt64
    var progress: Bool

    struct Measurement: Sendable {
        var result: ConnectionResult
        /// From the end of warm-up to the last counted reply.
        var elapsedSeconds: Double
        var connectionFailures: [String]
    }

    func run(catalog: RequestCatalog, picker: KeyPicker, framer: ReplyFramer) async throws -> Measurement {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        do {
            let measurement = try await run(on: group, catalog: catalog, picker: picker, framer: framer)
            try? await group.shutdownGracefully()
            return measurement
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(on group: MultiThreadedEventLoopGroup, catalog: RequestCatalog, picker: KeyPicker, framer: ReplyFramer) async throws -> Measurement {
        let tally = LoadTally()
        let pace: Pace = rate.map { .open(intervalNs: UInt64(1e9 * Double(connections) / max($0, 1e-3)), wakeGridNs: wakeGridNs) } ?? .closed
        let budgets = requests.map { total in
            (0..<connections).map { total / connections + ($0 < total % connections ? 1 : 0) }
        }

        var channels: [any Channel] = []
        var finished: [EventLoopFuture<ConnectionResult>] = []
        for index in 0..<connections {
            let address = addresses[index % addresses.count]
            let loop = group.next()
            let done = loop.makePromise(of: ConnectionResult.self)
            let budget = budgets?[index]
            let seed = seed &+ UInt64(index) &* 0x9E37_79B9
            let pipeline = pipeline
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(
                            catalog: catalog, picker: picker, framer: framer, pace: pace, pipeline: pipeline,
                            requestBudget: budget, seed: seed, tally: tally, done: done))
                    }
                }
                .connect(host: address.host, port: address.port)
                .get()
            channels.append(channel)
            finished.append(done.futureResult)
        }

        let startNs = NIODeadline.now().uptimeNanoseconds + 1_000_000
        let measureFromNs = startNs + UInt64(warmupSeconds * 1e9)
        let stopSendingNs = durationSeconds.map { measureFromNs + UInt64($0 * 1e9) }
        for (index, channel) in channels.enumerated() {
            var firstDue = startNs
            if case .open(let interval, _) = pace { firstDue += interval * UInt64(index) / UInt64(connections) }
            channel.pipeline.fireUserInboundEventTriggered(StartLoad(
                firstDueNs: firstDue, measureFromNs: measureFromNs, stopSendingNs: stopSendingNs, drainGraceNs: drainGraceNs))
        }

        let reporter = progress ? Task { await Self.report(tally: tally, startNs: startNs) } : nil
        var merged = ConnectionResult()
        var failures: [String] = []
        for future in finished {
            let result = try await future.get()
            if let failure = result.failure { failures.append(failure) }
            merged.merge(result)
        }
        reporter?.cancel()
        _ = await reporter?.value
        for channel in channels { try? await channel.close() }

        let endNs = max(merged.lastReplyNs, measureFromNs + 1)
        return Measurement(result: merged, elapsedSeconds: Double(endNs - measureFromNs) / 1e9, connectionFailures: failures)
    }

    /// The live progress line: requests per second over the last second, total, errors.
    private static func report(tally: LoadTally, startNs: UInt64) async {
        let interactive = isatty(STDERR_FILENO) != 0
        var last = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { break }
            let completed = tally.completed.load(ordering: .relaxed)
            let errors = tally.errors.load(ordering: .relaxed)
            let elapsed = Double(NIODeadline.now().uptimeNanoseconds &- startNs) / 1e9
            let line = String(format: "[%5.1fs] %10.0f req/s   %12d replies   %d errors", elapsed, Double(completed - last), completed, errors)
            last = completed
            FileHandle.standardError.write(Data((interactive ? "\r" + line : line + "\n").utf8))
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
