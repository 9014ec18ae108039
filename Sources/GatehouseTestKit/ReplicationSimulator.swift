import GatehouseCore
import GatehouseMembership
import HeapModule

/// Key-record replication across N replicas over a `SimulatedNetwork`, with the real merge
/// and anti-entropy logic (`Gatekeeper.apply`, `ReplicaDigest`, `ReplicaDiff`): each write
/// is pushed to every other replica as one datagram (subject to loss, duplication, delay
/// and partitions), and every `antiEntropyMs` each replica exchanges digests and then the
/// differing records with a random peer over a reliable (TCP-like) link, when reachable.
/// Like the node, every replica that first receives a write also gossips it (the membership
/// piggyback): to `gossipFanout` random peers every `gossipIntervalMs`, λ·log(N+1) times.
/// Membership is taken as known; the membership simulator covers it.
public struct ReplicationSimulator {
    public private(set) var nowMs: Int64 = 0
    public var network: SimulatedNetwork
    public let antiEntropyMs: Int64
    public var gossipIntervalMs: Int64 = 200
    public var gossipFanout = 3
    /// λ·log(N+1) with memberlist's λ = 4, as `MembershipSettings.retransmitLimit`.
    public var retransmits: Int { MembershipSettings().retransmitLimit(members: replicas.count) }
    public private(set) var replicas: [Gatekeeper]
    public private(set) var datagramsSent = 0
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
            case deliver(to: Int, KeyRecord)
            case antiEntropy(Int)
            case gossip(from: Int, KeyRecord, remaining: Int)
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
        for index in 0..<count {
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
        for peer in replicas.indices where peer != replica {
            send(record, from: replica, to: peer)
        }
        schedule(.gossip(from: replica, record, remaining: retransmits), atMs: nowMs + gossipIntervalMs)
        return record
    }

    private mutating func send(_ record: KeyRecord, from: Int, to: Int) {
        datagramsSent += 1
        let source = Self.node(from)
        let target = Self.node(to)
        guard network.canReach(from: source, to: target) else { return }
        let link = network.conditions(from: source, to: target)
        if chance(link.loss) { return }
        for _ in 0..<(chance(link.duplication) ? 2 : 1) {
            let delay = link.minDelayMs + Int64(random.next() % UInt64(max(1, link.maxDelayMs - link.minDelayMs + 1)))
            schedule(.deliver(to: to, record), atMs: nowMs + delay)
        }
    }

    public mutating func run(forMs duration: Int64) {
        let end = nowMs + duration
        while let next = events.min, next.atMs <= end {
            let event = events.removeMin()
            nowMs = max(nowMs, event.atMs)
            switch event.kind {
            case .deliver(let to, let record):
                clocks[to].observe(record.version, nowMs: nowMs)
                if replicas[to].apply(record) {
                    // New here: pass it on by gossip, as the piggyback queue does.
                    schedule(.gossip(from: to, record, remaining: retransmits), atMs: nowMs + gossipIntervalMs)
                }
            case .gossip(let from, let record, let remaining):
                guard remaining > 0 else { break }
                for _ in 0..<gossipFanout {
                    let peer = (from + 1 + Int(random.next() % UInt64(replicas.count - 1))) % replicas.count
                    send(record, from: from, to: peer)
                }
                schedule(.gossip(from: from, record, remaining: remaining - 1), atMs: nowMs + gossipIntervalMs)
            case .antiEntropy(let replica):
                antiEntropy(from: replica)
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

    private mutating func antiEntropy(from replica: Int) {
        let peer = (replica + 1 + Int(random.next() % UInt64(replicas.count - 1))) % replicas.count
        let a = Self.node(replica)
        let b = Self.node(peer)
        guard network.canReach(from: a, to: b), network.canReach(from: b, to: a) else { return }
        let buckets = Set(replicas[replica].digest().differingBuckets(from: replicas[peer].digest()))
        guard !buckets.isEmpty else { return }
        let diff = ReplicaDiff.compare(ours: replicas[replica].entries(inBuckets: buckets), theirs: replicas[peer].entries(inBuckets: buckets))
        for record in replicas[replica].records(ids: diff.send) { replicas[peer].apply(record) }
        for record in replicas[peer].records(ids: diff.request) { replicas[replica].apply(record) }
        recordsRepaired += diff.send.count + diff.request.count
    }

    /// The digest every replica must reach: the model's.
    public var modelDigest: ReplicaDigest {
        var digest = ReplicaDigest()
        for record in model.values { digest.add(id: record.id, version: record.version) }
        return digest
    }

    public var isConverged: Bool {
        let expected = modelDigest
        return replicas.allSatisfy { $0.digest() == expected }
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
