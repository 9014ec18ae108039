import Histogram
import NIOCore
import Synchronization

/// How requests are paced on one connection.
enum Pace: Sendable, Hashable {
    /// Closed loop: keep `pipeline` requests in flight, send the next when a reply comes back.
    case closed
    /// Open loop: one request every `intervalNs` whatever the replies do. Latency counts
    /// from the moment a request *should* have been sent, so a stalled server shows as
    /// latency instead of vanishing as fewer requests (no coordinated omission). Timers
    /// wake on a grid of `wakeGridNs` (0: at each due time), so the connections of one event
    /// loop whose requests fall due within one step share a wake-up instead of each waking
    /// the thread and resetting its timer on its own; the wait for the grid is part of the
    /// measured latency, not hidden.
    case open(intervalNs: UInt64, wakeGridNs: UInt64)
}

/// The start signal a run sends every connection once all are connected.
struct StartLoad: Sendable {
    /// When the first open-loop request of this connection is due (spread over connections).
    var firstDueNs: UInt64
    /// Replies to requests sent before this do not count (warm-up).
    var measureFromNs: UInt64
    /// No request is sent at or after this; `nil` with a request budget.
    var stopSendingNs: UInt64?
    /// How long to wait for outstanding replies after the last send before counting them lost.
    var drainGraceNs: UInt64
}

/// What one connection measured.
struct ConnectionResult: Sendable {
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: LoadConnectionHandler.maxLatencyNs, numberOfSignificantValueDigits: .three)
    /// Open loop: how long after its due time each measured request actually went out. Part
    /// of every latency (it counts from the due time); large values mean the load
    /// generator itself did not get the CPU in time (or the connection had its most in
    /// flight already), not that a server was slow.
    var sendLateness = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: LoadConnectionHandler.maxLatencyNs, numberOfSignificantValueDigits: .two)
    var completed = 0
    var accepted = 0
    var refused = 0
    var errors = 0
    /// Requests still unanswered when the connection gave up or failed.
    var lost = 0
    var firstReplyNs: UInt64 = .max
    var lastReplyNs: UInt64 = 0
    var failure: String?
    /// By 100 ms of due (or send) time since measuring began: whether the tail is spread
    /// over the run or comes in stalls.
    var timeline: [LatencyTimeline.Bucket] = []

    mutating func record(latencyNs: UInt64, stampNs: UInt64, measureFromNs: UInt64) {
        _ = histogram.record(min(latencyNs, LoadConnectionHandler.maxLatencyNs))
        let index = Int((stampNs &- measureFromNs) / LatencyTimeline.bucketNs)
        if index >= timeline.count {
            guard index < LatencyTimeline.maxBuckets else { return }
            timeline += Array(repeating: LatencyTimeline.Bucket(), count: index + 1 - timeline.count)
        }
        timeline[index].add(latencyNs)
    }

    mutating func merge(_ other: ConnectionResult) {
        histogram.add(other.histogram)
        sendLateness.add(other.sendLateness)
        if other.timeline.count > timeline.count {
            timeline += Array(repeating: LatencyTimeline.Bucket(), count: other.timeline.count - timeline.count)
        }
        for (index, bucket) in other.timeline.enumerated() { timeline[index].merge(bucket) }
        completed += other.completed
        accepted += other.accepted
        refused += other.refused
        errors += other.errors
        lost += other.lost
        firstReplyNs = min(firstReplyNs, other.firstReplyNs)
        lastReplyNs = max(lastReplyNs, other.lastReplyNs)
        if failure == nil { failure = other.failure }
    }
}

/// Counters every connection adds to, read by the progress line.
final class LoadTally: Sendable {
    let completed = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
}

/// Drives load on one connection: sends pre-encoded requests, frames the replies, and
/// records each reply's latency in its own histogram (no locks; merged at the end).
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let maxLatencyNs: UInt64 = 60_000_000_000

    private let catalog: RequestCatalog
    private let picker: KeyPicker
    private let framer: ReplyFramer
    private let pace: Pace
    private let inFlightLimit: Int
    private let requestBudget: Int?
    private let tally: LoadTally
    private let done: EventLoopPromise<ConnectionResult>
    private var generator: SplitMix64

    private var start: StartLoad?
    private var stampsInFlight = CircularBuffer<UInt64>(initialCapacity: 64)
    private var inbound: ByteBuffer?
    private var outbound: ByteBuffer
    private var sent = 0
    private var nextDueNs: UInt64 = 0
    private var result = ConnectionResult()
    private var finished = false
    private var timer: Scheduled<Void>?
    private var giveUp: Scheduled<Void>?

    init(
        catalog: RequestCatalog, picker: KeyPicker, framer: ReplyFramer, pace: Pace, pipeline: Int,
        requestBudget: Int?, seed: UInt64, tally: LoadTally, done: EventLoopPromise<ConnectionResult>
    ) {
        self.catalog = catalog
        self.picker = picker
        self.framer = framer
        self.pace = pace
        inFlightLimit = max(1, pipeline)
        self.requestBudget = requestBudget
        generator = SplitMix64(seed: seed)
        self.tally = tally
        self.done = done
        outbound = ByteBuffer()
    }

    private static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let start = event as? StartLoad else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.start = start
        nextDueNs = start.firstDueNs
        let hardStop = (start.stopSendingNs ?? (Self.now() + 3_600_000_000_000)) + start.drainGraceNs
        giveUp = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(hardStop)) { [self] in
            finish(failure: stampsInFlight.isEmpty ? nil : "\(stampsInFlight.count) replies outstanding after the drain grace")
        }
        // Closed loop: every connection starts at the same instant; open loop: at its own
        // first due time, spread over one interval.
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(start.firstDueNs)) { [self] in
            timer = nil
            pump(context: context, now: Self.now())
        }
    }

    /// Whether a request stamped `stamp` may still go out.
    private func maySend(at stamp: UInt64) -> Bool {
        if let budget = requestBudget, sent >= budget { return false }
        if let stop = start?.stopSendingNs, stamp >= stop { return false }
        return true
    }

    /// Sends what the pace allows now, flushes, and finishes when nothing is left to do.
    private func pump(context: ChannelHandlerContext, now: UInt64) {
        guard !finished else { return }
        switch pace {
        case .closed:
            while stampsInFlight.count < inFlightLimit && maySend(at: now) { send(stamp: now) }
        case .open(let interval, let grid):
            while nextDueNs <= now && stampsInFlight.count < inFlightLimit && maySend(at: nextDueNs) {
                if let start, nextDueNs >= start.measureFromNs {
                    _ = result.sendLateness.record(min(now - nextDueNs, Self.maxLatencyNs))
                }
                send(stamp: nextDueNs)
                nextDueNs &+= interval
            }
            if timer == nil, nextDueNs > now, maySend(at: nextDueNs) {
                let wake = grid == 0 ? nextDueNs : (nextDueNs + grid - 1) / grid * grid
                timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(wake)) { [self] in
                    timer = nil
                    pump(context: context, now: Self.now())
                }
            }
        }
        flush(context: context)
        let moreToSend: Bool
        switch pace {
        case .closed: moreToSend = maySend(at: now)
        case .open: moreToSend = maySend(at: nextDueNs)
        }
        if !moreToSend && stampsInFlight.isEmpty { finish(failure: nil) }
    }

    private func send(stamp: UInt64) {
        let index = picker.pick(using: &generator)
        var request = catalog.requests[index]
        outbound.writeBuffer(&request)
        stampsInFlight.append(stamp)
        sent += 1
    }

    private func flush(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(outbound), promise: nil)
        outbound = context.channel.allocator.buffer(capacity: 4096)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        let now = Self.now()
        var replies = 0
        var errors = 0
        do throws(ReplyFramingError) {
            while let (length, outcome) = try framer.frame(inbound!) {
                inbound!.moveReaderIndex(forwardBy: length)
                guard let stamp = stampsInFlight.popFirst() else {
                    throw ReplyFramingError(description: "a reply nobody asked for")
                }
                replies += 1
                if outcome == .error { errors += 1 }
                guard let from = start?.measureFromNs, stamp >= from else { continue }
                result.record(latencyNs: now &- stamp, stampNs: stamp, measureFromNs: from)
                result.completed += 1
                switch outcome {
                case .accepted: result.accepted += 1
                case .refused: result.refused += 1
                case .error: result.errors += 1
                }
                result.firstReplyNs = min(result.firstReplyNs, now)
                result.lastReplyNs = now
            }
        } catch {
            finish(failure: error.description)
            context.close(promise: nil)
            return
        }
        if inbound!.readableBytes == 0 {
            inbound = nil
        } else if inbound!.readerIndex > 64 * 1024 {
            inbound!.discardReadBytes()
        }
        if replies > 0 { tally.completed.add(replies, ordering: .relaxed) }
        if errors > 0 { tally.errors.add(errors, ordering: .relaxed) }
        if let start, now >= start.firstDueNs { pump(context: context, now: now) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(failure: finished ? nil : "the server closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(failure: "connection error: \(error)")
        context.close(promise: nil)
    }

    private func finish(failure: String?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        giveUp?.cancel()
        result.lost = stampsInFlight.count
        result.failure = failure
        done.succeed(result)
    }
}
