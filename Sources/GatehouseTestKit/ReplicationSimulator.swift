import GatehouseCore
import GatehouseMembership
import HeapModule

/// Key-record replication across N replicas over a `SimulatedNetwork`, driving the shipped
/// machine (`ReplicationMachine`) and merge (`Gatekeeper.apply`, `ReplicaDigest`,
/// `ReplicaDiff`): every directive the machines return is carried out here, and every
/// message they send crosses the simulated network — lost, duplicated, delayed (so
/// reordered) or cut by partitions as its conditions say. Pushes, anti-entropy's four
/// steps and their answers are all subject to it. Membership is taken as known; the
/// membership simulator covers it.
public struct ReplicationSimulator {
    public private(set) var nowMs: Int64 = 0
    public var network: SimulatedNetwork
    public let antiEntropyMs: Int64
    /// Drops every pushed write (a `records` message a local write caused), so only
    /// anti-entropy carries records.
    public var dropEveryPush = false
    public private(set) var replicas: [Gatekeeper]
    public private(set) var machines: [ReplicationMachine]
    public private(set) var messagesSent = 0
    /// Plaintext bytes of every message sent, as `messageBytes` measures them.
    public private(set) var bytesSent = 0
    public var messageBytes: (DataMessage) -> Int = { _ in 0 }
    public private(set) var recordsRepaired = 0
    /// The sequential last-writer-wins model: what every replica must end up holding.
    public private(set) var model: [String: KeyRecord] = [:]
    private var events = Heap<Event>()
    private var sequence: UInt64 = 0
    private var random: SeededGenerator
    private let hasher = LookupHasher(pepper: Array("replication-simulator-pepper-0123456789".utf8))
    private var clocks: [HybridClock]

    struct Event: Comparable {
        var atMs: Int64
        var sequence: UInt64
        var kind: Kind
        enum Kind {
            case deliver(DataMessage, from: Int, to: Int)
            case antiEntropy(Int)
        }
        static func < (lhs: Event, rhs: Event) -> Bool { (lhs.atMs, lhs.sequence) < (rhs.atMs, rhs.sequence) }
        static func == (lhs: Event, rhs: Event) -> Bool { lhs.atMs == rhs.atMs && lhs.sequence == rhs.sequence }
    }

    public static func node(_ index: Int) -> NodeID { NodeID("r\(index)") }

    public init(replicas count: Int, seed: UInt64, network: SimulatedNetwork = SimulatedNetwork(), antiEntropyMs: Int64 = 5_000) {
        self.network = network
        self.antiEntropyMs = antiEntropyMs
        random = SeededGenerator(seed: seed)
        let hasher = hasher
        replicas = (0..<count).map { _ in Gatekeeper(hasher: hasher) }
        clocks = (0..<count).map { HybridClock(node: Self.node($0).name) }
        machines = (0..<count).map { ReplicationMachine(me: Self.node($0), seed: seed &* 7_919 &+ UInt64($0)) }
        let everyone = (0..<count).map(Self.node)
        for index in 0..<count {
            machines[index].onMembers(everyone)
            schedule(.antiEntropy(index), atMs: Int64(random.next() % UInt64(antiEntropyMs)))
        }
    }

    /// A write on `replica`: a new version of `id` (created if new), pushed to every peer.
    @discardableResult
    public mutating func write(_ id: String, on replica: Int, name: String) -> KeyRecord {
        let version = clocks[replica].tick(nowMs: nowMs)
        let record = KeyRecord(
            id: id, lookup: hasher.hash("secret-\(id)"), start: "gk_", name: name, owner: "o", scopes: [], enabled: true,
            createdAt: 0, expiresAt: nil, limits: [], credits: nil, creditsSetAt: nil, meta: [:], revokedAt: nil,
            lastUsedAt: nil, retiredSecrets: [], version: version)
        replicas[replica].apply(record)
        if model[id].map({ $0.version < version }) ?? true { model[id] = record }
        let directives = machines[replica].onLocalWrite([record])
        perform(dropEveryPush ? [] : directives, at: replica)
        return record
    }

    /// Carries out a machine's directives the way the node's runner does.
    private mutating func perform(_ directives: [ReplicationDirective], at replica: Int) {
        for directive in directives {
            switch directive {
            case .send(let message, let peer):
                guard let to = Self.index(of: peer) else { continue }
                send(message, from: replica, to: to)
            case .apply(let records, _, let repair):
                for record in records {
                    clocks[replica].observe(record.version, nowMs: nowMs)
                    if replicas[replica].apply(record), repair { recordsRepaired += 1 }
                }
            case .mergeCounters, .restoreOwnCounters, .antiEntropyAnswered:
                break
            }
        }
    }

    private mutating func send(_ message: DataMessage, from: Int, to: Int) {
        messagesSent += 1
        bytesSent += messageBytes(message)
        let source = Self.node(from)
        let target = Self.node(to)
        guard network.canReach(from: source, to: target) else { return }
        let link = network.conditions(from: source, to: target)
        if chance(link.loss) { return }
        for _ in 0..<(chance(link.duplication) ? 2 : 1) {
            let delay = link.minDelayMs + Int64(random.next() % UInt64(max(1, link.maxDelayMs - link.minDelayMs + 1)))
            schedule(.deliver(message, from: from, to: to), atMs: nowMs + delay)
        }
    }

    static func index(of node: NodeID) -> Int? {
        node.name.hasPrefix("r") ? Int(node.name.dropFirst()) : nil
    }

    public mutating func run(forMs duration: Int64) {
        let end = nowMs + duration
        while let next = events.min, next.atMs <= end {
            let event = events.removeMin()
            nowMs = max(nowMs, event.atMs)
            switch event.kind {
            case .deliver(let message, let from, let to):
                let view = GatekeeperIndexView(gatekeeper: replicas[to])
                perform(machines[to].onMessage(message, from: Self.node(from), index: view), at: to)
            case .antiEntropy(let replica):
                let view = GatekeeperIndexView(gatekeeper: replicas[replica])
                perform(machines[replica].onAntiEntropyTimer(index: view), at: replica)
                schedule(.antiEntropy(replica), atMs: nowMs + antiEntropyMs)
            }
        }
        nowMs = end
    }

    /// Runs until every replica matches the model, or `limitMs` passes; the time it took.
    public mutating func runUntilConverged(limitMs: Int64, stepMs: Int64 = 10) -> Int64? {
        let start = nowMs
        while nowMs - start <= limitMs {
            if isConverged { return nowMs - start }
            run(forMs: stepMs)
        }
        return nil
    }

    /// The digest every replica must reach: the model's.
    public var modelDigest: ReplicaDigest {
        var digest = ReplicaDigest()
        for record in model.values { digest.add(id: record.id, version: record.version) }
        return digest
    }

    public var isConverged: Bool {
        let expected = modelDigest
        return replicas.allSatisfy { $0.digest == expected }
    }

    /// How many replicas already hold `record` (or something newer).
    public func holders(of record: KeyRecord) -> Int {
        replicas.filter { ($0.record(id: record.id)?.version ?? .zero) >= record.version }.count
    }

    private mutating func schedule(_ kind: Event.Kind, atMs: Int64) {
        sequence += 1
        events.insert(Event(atMs: atMs, sequence: sequence, kind: kind))
    }

    private mutating func chance(_ probability: Double) -> Bool {
        probability > 0 && random.unit() < probability
    }
}

/// A replica's index as the replication machine reads it (a copy: values, no locks).
struct GatekeeperIndexView: ReplicaIndexView {
    let gatekeeper: Gatekeeper

    func digest() -> ReplicaDigest { gatekeeper.digest }
    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { gatekeeper.entries(inBuckets: buckets) }
    func records(ids: [String]) -> [KeyRecord] { gatekeeper.records(ids: ids) }
    func counterSlots(heldFor node: NodeID) -> [CounterSlot] { [] }
}
