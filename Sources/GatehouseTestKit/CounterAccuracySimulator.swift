import Foundation
import GatehouseCore

/// Rate-limit accuracy when several nodes share one key: K gatekeepers (the real decision
/// code), Poisson traffic at `overload` × the limit spread over them, counter slots due under
/// `rule` (the node's `CounterSendRule`) exchanged every `syncMs` (each node on its own
/// phase) with a small delay and optional loss.
/// Reports admitted / limit per fixed window.
public enum CounterAccuracySimulator {
    public struct Result: Sendable {
        public var nodes: Int
        public var windowMs: Int64
        public var syncMs: Int64
        public var shares: Bool
        public var meanRatio: Double
        public var maxRatio: Double
        /// The first window: traffic starts at once on every node against an empty counter,
        /// the burst where delayed counts overshoot most.
        public var firstWindowRatio: Double
        /// Counter slots sent per node per second (to each peer).
        public var slotsPerNodePerSecond: Double
        /// Bytes sent per node per second, as measured by the caller's `wireBytes`.
        public var bytesPerNodePerSecond: Double
    }

    public static func run(
        nodes: Int, windowMs: Int64, limit: Int64, syncMs: Int64, overload: Double = 2, shares: Bool, windows: Int = 8, loss: Double = 0,
        rule: CounterSendRule = .always, wireBytes: ([CounterSlot]) -> Int = { _ in 0 }
    ) -> Result {
        let hasher = LookupHasher(pepper: Array("accuracy-figures-pepper-0123456789ab".utf8))
        var random = SystemRandomNumberGenerator()
        let start: Int64 = 1_800_000_000_000 - 1_800_000_000_000 % windowMs
        let created = try! KeyLifecycle.create(
            KeyDraft(limits: [RateLimit(name: "w", limit: limit, windowMs: windowMs)]), defaultLimits: [], hasher: hasher,
            nowMs: start, version: HybridTimestamp(wallMs: start, logical: 0, node: "n1"), using: &random)
        var settings = Gatekeeper.Settings()
        settings.clusterShares = shares
        let names = (0..<nodes).map { "n\($0 + 1)" }
        var replicas = names.map { Gatekeeper(hasher: hasher, settings: settings, node: $0) }
        for index in replicas.indices {
            replicas[index].apply(created.record)
            replicas[index].setLiveMembers(names)
        }
        // Poisson arrivals (seeded), and each node syncing on its own phase: nothing lines up
        // by accident with the window edges or with the other nodes' syncs.
        var generator = SeededGenerator(seed: UInt64(windowMs) &* 31 &+ UInt64(nodes))
        let meanGapMs = Double(windowMs) / (Double(limit) * overload)
        var admittedPerWindow: [Int64: Int64] = [:]
        var inFlight: [(deliverAt: Double, to: Int, from: Int, slots: [CounterSlot])] = []
        var nextSync = replicas.indices.map { Double(start) + Double(syncMs) * Double($0 + 1) / Double(nodes) + 7.3 }
        let end = Double(start + windowMs * Int64(windows + 2))
        var time = Double(start) + 3.7
        var request = 0
        var slotsSent = 0
        var bytesSent = 0
        while time < end {
            for sender in replicas.indices where nextSync[sender] <= time {
                let dirty = replicas[sender].takeDirtyCounterRecords()
                let slots = replicas[sender].takeCounterChanges(ofRecords: dirty[...], nowMs: Int64(nextSync[sender]), rule: rule)
                if !slots.isEmpty {
                    slotsSent += slots.count * (nodes - 1)
                    bytesSent += wireBytes(slots) * (nodes - 1)
                    for receiver in replicas.indices where receiver != sender && generator.unit() >= loss {
                        inFlight.append((nextSync[sender] + 0.5 + generator.unit() * 2, receiver, sender, slots))
                    }
                }
                nextSync[sender] += Double(syncMs)
            }
            inFlight.removeAll { message in
                guard message.deliverAt <= time else { return false }
                replicas[message.to].mergeCounters(message.slots, from: NodeOrdinal(message.from + 1), nowMs: Int64(time))
                return true
            }
            let now = Int64(time)
            let node = Int(generator.next() % UInt64(nodes))
            if replicas[node].verify(key: created.secret, VerifyRequest(), nowMs: now).code == .valid {
                admittedPerWindow[(now - start) / windowMs, default: 0] += 1
            }
            request += 1
            time += -log(max(1e-12, generator.unit())) * meanGapMs
        }
        // Skip the first two windows (warm-up: the sliding window starts empty).
        let ratios = (2..<(windows + 2)).map { Double(admittedPerWindow[Int64($0), default: 0]) / Double(limit) }
        return Result(
            nodes: nodes, windowMs: windowMs, syncMs: syncMs, shares: shares,
            meanRatio: ratios.reduce(0, +) / Double(ratios.count), maxRatio: ratios.max() ?? 0,
            firstWindowRatio: Double(admittedPerWindow[0, default: 0]) / Double(limit),
            slotsPerNodePerSecond: Double(slotsSent) / Double(nodes) / ((end - Double(start)) / 1000),
            bytesPerNodePerSecond: Double(bytesSent) / Double(nodes) / ((end - Double(start)) / 1000))
    }
}
