import Foundation
import GatehouseCore
import GatehouseMembership
import GatehouseWire

/// Counter-sync traffic of a whole cluster, to see how it grows with the number of nodes:
/// N gatekeepers (the real decision code, one per node), many hot keys, and for each node
/// the shipped `ReplicationMachine` and a `DataStreamEncoder` per peer stream.
///
/// Every `tickMs` (each node on its own phase) a node takes its due changes under its
/// `CounterSendRule` (`takeDirtyCounterRecords` / `takeCounterChanges`) and hands them to
/// `onCounterTick`; every `.send` the machine returns is one frame (split at the outbox's
/// `slotsPerBatch`, as `DataStreamOutbox.takeBatch` does), delivered after a small delay to
/// the receiver's machine (`onMessage`), whose `.mergeCounters` is merged into its
/// gatekeeper and whose news go back to the machine (`onCounterNews`) — so in fan-out mode
/// the relays are the machine's own. Nothing about the protocol is modelled here.
///
/// **What is measured where.** Frames and slots are counted for every node. Bytes are
/// measured on the streams of `sampledSenders` nodes only, with one real encoder per
/// (sender, receiver) stream plus `ClusterKeyring.overhead` and the 4-byte length per
/// frame: at 500 nodes an encoder per stream would be 250,000 bucket dictionaries. The
/// sampled streams start warm (every hot bucket already defined), as a stream that has
/// lived for minutes is; nodes are symmetric (uniform traffic), so the sampled senders'
/// mean stands for every node's.
///
/// Deterministic for a seed: traffic, phases, delays and the machines' fan-out choices.
public enum CounterScaleSimulator {
    /// A group of keys with the same limit and the same traffic.
    public struct KeyClass: Hashable, Sendable {
        public var name: String
        public var keys: Int
        public var limit: Int64
        public var windowMs: Int64
        /// Offered requests per second for each key, over the whole cluster (Poisson).
        public var requestsPerSecond: Double
        /// Whether admitted ÷ limit per fixed window is reported for this class.
        public var measuresAccuracy: Bool

        public init(name: String, keys: Int, limit: Int64, windowMs: Int64, requestsPerSecond: Double, measuresAccuracy: Bool = false) {
            self.name = name
            self.keys = keys
            self.limit = limit
            self.windowMs = windowMs
            self.requestsPerSecond = requestsPerSecond
            self.measuresAccuracy = measuresAccuracy
        }
    }

    /// 10,000 hot keys as a gateway sees them: most far below their limits, a few at or
    /// above. About 50,600 requests/s offered cluster-wide, 40,600 admitted.
    public static let hotKeyMix: [KeyClass] = [
        KeyClass(name: "far, 100/s at 2/s", keys: 6_000, limit: 100, windowMs: 1_000, requestsPerSecond: 2),
        KeyClass(name: "far, 1000/h at 720/h", keys: 3_000, limit: 1_000, windowMs: 3_600_000, requestsPerSecond: 0.2),
        KeyClass(name: "mid, 100/s at 20/s", keys: 900, limit: 100, windowMs: 1_000, requestsPerSecond: 20),
        KeyClass(name: "over, 100/s at 200/s", keys: 100, limit: 100, windowMs: 1_000, requestsPerSecond: 200, measuresAccuracy: true),
    ]

    public struct Configuration: Sendable {
        public var nodes: Int
        public var keyClasses: [KeyClass]
        /// Traffic runs for this long; rates are measured over `[warmupMs, trafficMs)`.
        public var trafficMs: Int64
        public var warmupMs: Int64
        /// After the traffic: time for the last counts to go out (the rule's staleness bound).
        public var quietMs: Int64
        public var tickMs: Int64 = 50
        public var minDelayMs: Int64 = 1
        public var maxDelayMs: Int64 = 5
        public var loss: Double = 0
        public var rule = CounterSendRule()
        public var machine = ReplicationMachine.Settings()
        public var membership = MembershipSettings()
        public var slotsPerFrame = DataStreamOutbox.Limits().slotsPerBatch
        public var sampledSenders = 4
        /// Compare every node's view with the true totals after the quiet period (costly:
        /// every node's slots for every node; for small clusters).
        public var checkConvergence = false
        public var seed: UInt64 = 1

        public init(nodes: Int, keyClasses: [KeyClass] = CounterScaleSimulator.hotKeyMix, trafficMs: Int64, warmupMs: Int64 = 1_000, quietMs: Int64 = 0) {
            self.nodes = nodes
            self.keyClasses = keyClasses
            self.trafficMs = trafficMs
            self.warmupMs = warmupMs
            self.quietMs = quietMs
        }
    }

    public struct Result: Sendable {
        public var nodes: Int
        public var keys: Int
        public var measuredSeconds: Double
        /// Fan-out (relays) rather than direct send to all.
        public var fanout: Bool
        /// Sealed bytes sent per node per second, counter frames only (sampled senders).
        public var bytesPerNodePerSecond: Double
        public var framesPerNodePerSecond: Double
        /// Slots sent per node per second (each copy to each peer counted).
        public var slotsPerNodePerSecond: Double
        /// Own slots a node takes under the rule per second (before fan-out or copies).
        public var ownSlotsPerNodePerSecond: Double
        public var admittedPerSecond: Double
        public var offeredPerSecond: Double
        /// Admitted ÷ limit per fixed window over the measured windows of the accuracy keys.
        public var meanRatio: Double
        public var maxRatio: Double
        /// Most relays any node held (fan-out); at `maxRelays` older relays were forgotten.
        public var maxPendingRelays: Int
        /// After the quiet period, with `checkConvergence`: the largest |view − truth| of a
        /// (key, window) total on any node, and how many true totals a node did not hold.
        public var maxViewError: Int64?
        public var missingViews: Int?
        public var comparedViews: Int?
    }

    public static func node(_ index: Int) -> NodeID { NodeID("c\(index)") }

    struct Delivery {
        var to: Int32
        var from: Int32
        var message: DataMessage
    }

    struct Request {
        var key: Int32
        var node: Int32
    }

    /// The counter path of `ReplicationMachine.onMessage` never reads the index.
    struct NoIndex: ReplicaIndexView {
        func digest() -> ReplicaDigest { ReplicaDigest() }
        func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { [] }
        func records(ids: [String]) -> [KeyRecord] { [] }
        func counterSlots(heldFor node: NodeID) -> [CounterSlot] { [] }
        func ownCounterSlots() -> [CounterSlot] { [] }
        func escrowRows(heldFor node: NodeID) -> [EscrowRow] { [] }
        func ownEscrowRows() -> [EscrowRow] { [] }
    }

    public static func run(_ configuration: Configuration) -> Result {
        var state = State(configuration)
        state.run()
        return state.result()
    }

    struct State {
        let configuration: Configuration
        let nodeCount: Int
        let start: Int64
        var random: SeededGenerator
        var gatekeepers: [Gatekeeper]
        var machines: [ReplicationMachine]
        let nodeIDs: [NodeID]
        let indexOf: [NodeID: Int]
        let secrets: [String]
        let keyClassOf: [Int]
        let buckets: [CounterBucket]
        /// By sampled sender position, by receiver.
        var encoders: [[DataStreamEncoder]]
        let sampledPosition: [Int?]
        var inbox: [[Delivery]]
        var requests: [[Request]]
        var measuring = false
        var bytes = 0
        var frames = 0
        var slots = 0
        var ownSlots = 0
        var admitted = 0
        var offered = 0
        var maxPendingRelays = 0
        /// Admitted per (accuracy key, window index).
        var admittedPerWindow: [Int: [Int64: Int64]] = [:]
        let retransmitLimit: Int

        init(_ configuration: Configuration) {
            self.configuration = configuration
            nodeCount = configuration.nodes
            random = SeededGenerator(seed: configuration.seed)
            // Aligned to the longest window so every window starts with the run.
            let longest = configuration.keyClasses.map(\.windowMs).max() ?? 1_000
            start = 1_800_000_000_000 - 1_800_000_000_000 % longest
            let hasher = LookupHasher(pepper: Array("counter-scale-simulator-pepper-0123456789".utf8))
            // Limit shares are left out: this measures what counter sync costs and how fast it
            // converges, for keys far from their limits.
            var settings = Gatekeeper.Settings()
            settings.clusterShares = false
            var template = Gatekeeper(hasher: hasher, settings: settings, node: "c0")
            var secrets: [String] = []
            var keyClassOf: [Int] = []
            var buckets: [CounterBucket] = []
            for (classIndex, keyClass) in configuration.keyClasses.enumerated() {
                for _ in 0..<keyClass.keys {
                    let limit = RateLimit(name: "l", limit: keyClass.limit, windowMs: keyClass.windowMs)
                    let created = try! KeyLifecycle.create(
                        KeyDraft(limits: [limit]), defaultLimits: [], hasher: hasher, nowMs: start,
                        version: HybridTimestamp(wallMs: start, logical: 0, node: "c0"), using: &random)
                    template.apply(created.record)
                    secrets.append(created.secret)
                    keyClassOf.append(classIndex)
                    buckets.append(.keyLimit(keyID: created.record.id, limit: limit.name, windowMs: limit.windowMs))
                }
            }
            template.setLiveMembers((0..<configuration.nodes).map { "c\($0)" })
            self.secrets = secrets
            self.keyClassOf = keyClassOf
            self.buckets = buckets
            // Copies share the records until a node writes; every node holds every key.
            gatekeepers = Array(repeating: template, count: configuration.nodes)
            nodeIDs = (0..<configuration.nodes).map(CounterScaleSimulator.node)
            indexOf = Dictionary(uniqueKeysWithValues: nodeIDs.enumerated().map { ($1, $0) })
            var machines: [ReplicationMachine] = []
            for index in 0..<configuration.nodes {
                var machine = ReplicationMachine(me: nodeIDs[index], settings: configuration.machine, seed: configuration.seed &* 7_919 &+ UInt64(index))
                machine.onMembers(nodeIDs)
                machines.append(machine)
            }
            self.machines = machines
            retransmitLimit = configuration.membership.retransmitLimit(members: configuration.nodes)
            // Sampled senders spread over the ring; their streams start with every bucket
            // defined (a warm dictionary), which is not counted.
            let sampled = min(configuration.sampledSenders, configuration.nodes)
            var position = [Int?](repeating: nil, count: configuration.nodes)
            for index in 0..<sampled { position[index * configuration.nodes / sampled] = index }
            sampledPosition = position
            var warm = DataStreamEncoder()
            let warmSlots = zip(buckets, secrets.indices).map { bucket, key in
                let windowMs = configuration.keyClasses[keyClassOf[key]].windowMs
                return CounterSlot(bucket: bucket, windowIndex: (1_800_000_000_000 - 1_800_000_000_000 % longest) / windowMs, count: 0)
            }
            for chunk in stride(from: 0, to: warmSlots.count, by: configuration.slotsPerFrame) {
                _ = warm.encode(.counters(origin: nodeIDs[0], slots: Array(warmSlots[chunk..<min(chunk + configuration.slotsPerFrame, warmSlots.count)])))
            }
            encoders = Array(repeating: Array(repeating: warm, count: configuration.nodes), count: sampled)
            inbox = Array(repeating: [], count: Int(configuration.maxDelayMs) + 2)
            requests = Array(repeating: [], count: Int(configuration.tickMs))
        }

        mutating func run() {
            let tick = configuration.tickMs
            let end = configuration.trafficMs + configuration.quietMs
            // Each node syncs on its own phase within the tick.
            var phases = [[Int]](repeating: [], count: Int(tick))
            for index in 0..<nodeCount { phases[Int(Int64(index) * tick / Int64(nodeCount))].append(index) }
            let slotsInInbox = Int64(inbox.count)
            for ms in 0..<end {
                let now = start + ms
                if ms == configuration.warmupMs { measuring = true }
                if ms == configuration.trafficMs { measuring = false }
                let due = inbox[Int(ms % slotsInInbox)]
                inbox[Int(ms % slotsInInbox)] = []
                for delivery in due {
                    let directives = machines[Int(delivery.to)].onMessage(delivery.message, from: nodeIDs[Int(delivery.from)], index: NoIndex())
                    perform(directives, at: Int(delivery.to), ms: ms, now: now)
                }
                for index in phases[Int(ms % tick)] { counterTick(index, now: now, ms: ms) }
                guard ms < configuration.trafficMs else { continue }
                if ms % tick == 0 { generateRequests() }
                let slot = Int(ms % tick)
                for request in requests[slot] { verify(request, now: now) }
                requests[slot].removeAll(keepingCapacity: true)
            }
        }

        /// One tick of Poisson arrivals for every key, each at a uniform millisecond and node.
        mutating func generateRequests() {
            let tick = configuration.tickMs
            var key = 0
            for keyClass in configuration.keyClasses {
                let mean = keyClass.requestsPerSecond * Double(tick) / 1_000
                let threshold = Foundation.exp(-mean)
                for _ in 0..<keyClass.keys {
                    var product = random.unit()
                    var count = 0
                    while product > threshold {
                        count += 1
                        product *= random.unit()
                    }
                    for _ in 0..<count {
                        let at = Int(random.next() % UInt64(tick))
                        requests[at].append(Request(key: Int32(key), node: Int32(random.next() % UInt64(nodeCount))))
                    }
                    key += 1
                }
            }
        }

        mutating func verify(_ request: Request, now: Int64) {
            let key = Int(request.key)
            let code = gatekeepers[Int(request.node)].verify(key: secrets[key], VerifyRequest(), nowMs: now).code
            guard measuring else { return }
            offered += 1
            guard code == .valid else { return }
            admitted += 1
            let keyClass = configuration.keyClasses[keyClassOf[key]]
            if keyClass.measuresAccuracy { admittedPerWindow[key, default: [:]][now / keyClass.windowMs, default: 0] += 1 }
        }

        mutating func counterTick(_ index: Int, now: Int64, ms: Int64) {
            let dirty = gatekeepers[index].takeDirtyCounterRecords()
            let changes = gatekeepers[index].takeCounterChanges(ofRecords: dirty[...], nowMs: now, rule: configuration.rule)
            if measuring { ownSlots += changes.count }
            let directives = machines[index].onCounterTick(ownChanges: changes, retransmitLimit: retransmitLimit)
            maxPendingRelays = max(maxPendingRelays, machines[index].pendingRelays)
            perform(directives, at: index, ms: ms, now: now)
        }

        /// Carries out directives the way `ClusterReplication.perform` does.
        mutating func perform(_ directives: [ReplicationDirective], at index: Int, ms: Int64, now: Int64) {
            for directive in directives {
                switch directive {
                case .send(let message, let peer):
                    guard let to = indexOf[peer] else { continue }
                    send(message, from: index, to: to, ms: ms)
                case .mergeCounters(let slots, let origin, _):
                    guard let from = indexOf[origin] else { continue }
                    let news = gatekeepers[index].mergeCounters(slots, from: ordinal(of: from), nowMs: now)
                    machines[index].onCounterNews(news, origin: origin)
                case .apply, .restoreOwnCounters, .counterRecoveryFinished, .antiEntropyAnswered, .mergeEscrow, .handOver, .restoreOwnEscrow, .applyAudit, .sendAuditEntries:
                    break
                }
            }
        }

        /// Peer `j` is ordinal `j + 1` on every node (0 is always the node itself).
        func ordinal(of node: Int) -> NodeOrdinal { NodeOrdinal(node + 1) }

        mutating func send(_ message: DataMessage, from: Int, to: Int, ms: Int64) {
            guard case .counters(let origin, let all) = message else { return }
            for chunkStart in stride(from: 0, to: all.count, by: configuration.slotsPerFrame) {
                let chunk = all.count <= configuration.slotsPerFrame ? all : Array(all[chunkStart..<min(chunkStart + configuration.slotsPerFrame, all.count)])
                let frame = DataMessage.counters(origin: origin, slots: chunk)
                if measuring {
                    frames += 1
                    slots += chunk.count
                    if let position = sampledPosition[from] {
                        bytes += encoders[position][to].encode(frame).readableBytes + ClusterKeyring.overhead + 4
                    }
                } else if let position = sampledPosition[from] {
                    // Keeps the stream's dictionary as the peer's decoder has it.
                    _ = encoders[position][to].encode(frame)
                }
                if configuration.loss > 0 && random.unit() < configuration.loss { continue }
                let delay = configuration.minDelayMs + Int64(random.next() % UInt64(configuration.maxDelayMs - configuration.minDelayMs + 1))
                inbox[Int((ms + delay) % Int64(inbox.count))].append(Delivery(to: Int32(to), from: Int32(from), message: frame))
            }
        }

        /// Largest |view − truth| over every (bucket, window) a node counted, on every node.
        func convergence() -> (maxError: Int64, missing: Int, compared: Int) {
            struct Key: Hashable {
                var bucket: CounterBucket
                var window: Int64
            }
            var truth: [Key: Int64] = [:]
            for gatekeeper in gatekeepers {
                for slot in gatekeeper.counterSlots(of: 0) { truth[Key(bucket: slot.bucket, window: slot.windowIndex), default: 0] += slot.count }
            }
            var maxError: Int64 = 0
            var missing = 0
            var compared = 0
            for index in 0..<nodeCount {
                var view: [Key: Int64] = [:]
                for holder in 0...nodeCount where holder != index + 1 {
                    for slot in gatekeepers[index].counterSlots(of: NodeOrdinal(holder)) {
                        view[Key(bucket: slot.bucket, window: slot.windowIndex), default: 0] += slot.count
                    }
                }
                for (key, total) in truth {
                    compared += 1
                    guard let seen = view[key] else {
                        missing += 1
                        continue
                    }
                    maxError = max(maxError, abs(seen - total))
                }
            }
            return (maxError, missing, compared)
        }

        func result() -> Result {
            let seconds = Double(configuration.trafficMs - configuration.warmupMs) / 1_000
            var ratios: [Double] = []
            for (key, windows) in admittedPerWindow {
                let keyClass = configuration.keyClasses[keyClassOf[key]]
                // Only windows wholly inside the measured period.
                let first = (start + configuration.warmupMs + keyClass.windowMs - 1) / keyClass.windowMs
                let last = (start + configuration.trafficMs) / keyClass.windowMs
                guard first < last else { continue }
                for window in first..<last { ratios.append(Double(windows[window, default: 0]) / Double(keyClass.limit)) }
            }
            let check = configuration.checkConvergence ? convergence() : nil
            let sampled = Double(encoders.count)
            return Result(
                nodes: nodeCount, keys: secrets.count, measuredSeconds: seconds, fanout: nodeCount - 1 > configuration.machine.directLimit,
                bytesPerNodePerSecond: Double(bytes) / sampled / seconds,
                framesPerNodePerSecond: Double(frames) / Double(nodeCount) / seconds,
                slotsPerNodePerSecond: Double(slots) / Double(nodeCount) / seconds,
                ownSlotsPerNodePerSecond: Double(ownSlots) / Double(nodeCount) / seconds,
                admittedPerSecond: Double(admitted) / seconds, offeredPerSecond: Double(offered) / seconds,
                meanRatio: ratios.isEmpty ? .nan : ratios.reduce(0, +) / Double(ratios.count), maxRatio: ratios.max() ?? .nan,
                maxPendingRelays: maxPendingRelays, maxViewError: check?.maxError, missingViews: check?.missing, comparedViews: check?.compared)
        }
    }
}
