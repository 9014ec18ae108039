import GatehouseCore
import GatehouseMembership
import HeapModule

/// Key-record replication and shared counters across N replicas over a `SimulatedNetwork`,
/// driving the shipped machine (`ReplicationMachine`), merges (`Gatekeeper.apply`,
/// `ReplicaDigest`, `ReplicaDiff`, `Gatekeeper.mergeCounters`) and counter send rule
/// (`CounterSendRule` through `Gatekeeper.takeCounterChanges`): every directive the machines
/// return is carried out here, and every message they send crosses the simulated network —
/// lost, duplicated, delayed (so reordered) or cut by partitions as its conditions say.
/// Pushes, anti-entropy's four steps, counter ticks and their answers are all subject to it.
///
/// Data travels on streams, as in the node: a lost message means its stream broke, and the
/// sender's stream to that peer comes up again after a reconnect delay (once the peer is
/// reachable), which the machine hears as `onStreamConnected`. Membership is taken as
/// known; the membership simulator covers it.
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
    /// The sequential model: every accepted write merged (`KeyRecord.merged`) in the order
    /// it was made: what every replica must end up holding.
    public private(set) var model: [String: KeyRecord] = [:]
    /// The sequential counter model: every admitted request, by bucket and fixed window.
    public private(set) var countModel: [CounterBucket: [Int64: Int64]] = [:]
    public let counterSyncMs: Int64
    public let rule: CounterSendRule
    /// Streams (sender, receiver) broken by a lost message, waiting to reconnect.
    private var brokenStreams: Set<[Int]> = []
    /// How long a broken stream stays down before it tries again.
    public var reconnectDelayMs: ClosedRange<Int64> = 100...500
    public private(set) var streamReconnects = 0
    /// Counter recoveries that ended: the restarted replica, and who answered it.
    public private(set) var recoveriesFinished: [(replica: Int, answered: [NodeID])] = []
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
            case counterTick(Int)
            case reconnect(from: Int, to: Int)
        }
        static func < (lhs: Event, rhs: Event) -> Bool { (lhs.atMs, lhs.sequence) < (rhs.atMs, rhs.sequence) }
        static func == (lhs: Event, rhs: Event) -> Bool { lhs.atMs == rhs.atMs && lhs.sequence == rhs.sequence }
    }

    public static func node(_ index: Int) -> NodeID { NodeID("r\(index)") }

    public init(
        replicas count: Int, seed: UInt64, network: SimulatedNetwork = SimulatedNetwork(), antiEntropyMs: Int64 = 5_000,
        counterSyncMs: Int64 = 50, rule: CounterSendRule = CounterSendRule(), settings: ReplicationMachine.Settings = .init()
    ) {
        self.network = network
        self.antiEntropyMs = antiEntropyMs
        self.counterSyncMs = counterSyncMs
        self.rule = rule
        random = SeededGenerator(seed: seed)
        let hasher = hasher
        let names = (0..<count).map { Self.node($0).name }
        replicas = names.map { name in
            var gatekeeper = Gatekeeper(hasher: hasher, node: name)
            gatekeeper.setLiveMembers(names)
            return gatekeeper
        }
        clocks = (0..<count).map { HybridClock(node: Self.node($0).name) }
        machines = (0..<count).map { ReplicationMachine(me: Self.node($0), settings: settings, seed: seed &* 7_919 &+ UInt64($0)) }
        let everyone = (0..<count).map(Self.node)
        for index in 0..<count {
            machines[index].onMembers(everyone)
            schedule(.antiEntropy(index), atMs: Int64(random.next() % UInt64(antiEntropyMs)))
            // Each node ticks on its own phase, as real nodes started at different times do.
            schedule(.counterTick(index), atMs: Int64(random.next() % UInt64(counterSyncMs)))
        }
    }

    /// The membership as the surviving replicas see it after `replica` died (or was cut off
    /// and declared dead): they stop sending to it, and default-mode limits are split over
    /// the rest. `replica` itself is left as it was.
    public mutating func declareDead(_ replica: Int) {
        let survivors = replicas.indices.filter { $0 != replica }
        let names = survivors.map { Self.node($0) }
        for index in survivors {
            replicas[index].setLiveMembers(names.map(\.name))
            machines[index].onMembers(names)
        }
    }

    /// The survivors take `replica` back as live (after `restart`, once the membership has
    /// told them): from now on they send to it again, starting with what a new data stream
    /// carries both ways (`onStreamConnected`: digests, own counts, own escrow rows).
    public mutating func declareAlive(_ replica: Int) {
        let everyone = replicas.indices.map { Self.node($0) }
        for index in replicas.indices where index != replica {
            replicas[index].setLiveMembers(everyone.map(\.name))
            machines[index].onMembers(everyone)
        }
        for index in replicas.indices where index != replica {
            for (from, to) in [(index, replica), (replica, index)] {
                let view = GatekeeperIndexView(gatekeeper: replicas[from], ordinal: Self.ordinal)
                perform(machines[from].onStreamConnected(Self.node(to), index: view), at: from)
            }
        }
    }

    /// `replica` crashed and starts again: its records are back from its disk, its counts
    /// and escrow rows (in memory) are gone, and a new machine starts recovering them from
    /// the peers (strict limits and credits wait for them). It
    /// knows every member (its join gave it the membership); the peers still have it as
    /// dead until `declareAlive`, and drop what they would send it until then, as a node
    /// without a stream to a member does.
    public mutating func restart(_ replica: Int) {
        let names = replicas.indices.map { Self.node($0) }
        var fresh = Gatekeeper(hasher: hasher, node: replicas[replica].node)
        fresh.setLiveMembers(names.map(\.name))
        for record in replicas[replica].records(ids: Array(model.keys)) { fresh.apply(record) }
        fresh.beginOwnStateRecovery(untilMs: nowMs + ReplicationMachine.Settings.recoveryMaxMs)
        replicas[replica] = fresh
        machines[replica] = ReplicationMachine(me: Self.node(replica), settings: machines[replica].settings, seed: random.next())
        machines[replica].onMembers(names)
        machines[replica].onStartRecovery()
        brokenStreams = brokenStreams.filter { !$0.contains(replica) }
    }

    /// A key with one limit, known to every replica from the start (its replication is what
    /// `write` tests); returns its secret, for `hit`.
    public mutating func countedKey(limit: Int64, windowMs: Int64, strict: Bool = false, credits: Int64? = nil) -> String {
        var generator = SystemRandomNumberGenerator()
        var draft = KeyDraft(limits: [RateLimit(name: "w", limit: limit, windowMs: windowMs, strict: strict)])
        draft.credits = credits
        var created = try! KeyLifecycle.create(
            draft, defaultLimits: [], hasher: hasher,
            nowMs: nowMs, version: HybridTimestamp(wallMs: max(1, nowMs), logical: 0, node: "setup"), using: &generator)
        created.record.holders = replicas.map(\.node).sorted()
        for index in replicas.indices { replicas[index].apply(created.record) }
        model[created.record.id] = created.record
        return created.secret
    }

    /// One request for the key of `secret` on `replica`, now; an admitted one counts in the
    /// model. Returns whether it was admitted.
    @discardableResult
    public mutating func hit(_ secret: String, on replica: Int) -> Bool {
        let answer = replicas[replica].verify(key: secret, VerifyRequest(), nowMs: nowMs)
        if replicas[replica].hasEscrowWants {
            perform(machines[replica].onEscrowWants(replicas[replica].takeEscrowWants()), at: replica)
        }
        guard answer.code == .valid, let id = answer.keyID, let record = replicas[replica].record(id: id) else { return false }
        for limit in record.limits {
            countModel[.keyLimit(keyID: id, limit: limit.name, windowMs: limit.windowMs), default: [:]][nowMs / limit.windowMs, default: 0] += 1
        }
        return true
    }

    /// What a write does to the copy of the key the writing replica holds.
    public enum WriteOperation: Sendable {
        case edit(name: String)
        case revoke
        case rotate
    }

    /// A write on `replica`: a new version of `id` (created if new), pushed to every peer.
    @discardableResult
    public mutating func write(_ id: String, on replica: Int, name: String) -> KeyRecord {
        write(id, on: replica, .edit(name: name))!
    }

    /// A write on `replica` made the way the node makes it, from the copy it holds (the
    /// lifecycle's rules apply: a revoked key takes no edit or rotation, and `nil` says the
    /// write was refused), pushed to every peer. The model merges every accepted write.
    @discardableResult
    public mutating func write(_ id: String, on replica: Int, _ operation: WriteOperation) -> KeyRecord? {
        let version = clocks[replica].tick(nowMs: nowMs)
        let record: KeyRecord
        if let current = replicas[replica].record(id: id) {
            var generator = SeededGenerator(seed: random.next())
            switch operation {
            case .edit(let name):
                guard let edited = try? KeyLifecycle.update(current, with: KeyChanges(name: name), nowMs: nowMs, version: version)
                else { return nil }
                record = edited
            case .revoke:
                record = KeyLifecycle.revoke(current, nowMs: nowMs, version: version)
            case .rotate:
                guard let rotated = try? KeyLifecycle.rotate(
                    current, graceMs: 1_000, hasher: hasher, nowMs: nowMs, version: version, using: &generator)
                else { return nil }
                record = rotated.record
            }
            guard record != current else { return nil }
        } else {
            guard case .edit(let name) = operation else { return nil }
            record = KeyRecord(
                id: id, lookup: hasher.hash("secret-\(id)"), start: "gk_", name: name, owner: "o", scopes: [], enabled: true,
                createdAt: 0, expiresAt: nil, limits: [], credits: nil, creditsSetAt: nil, meta: [:], revokedAt: nil,
                lastUsedAt: nil, retiredSecrets: [], version: version)
        }
        replicas[replica].apply(record)
        model[id] = model[id].map { KeyRecord.merged($0, record) } ?? record
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
            case .mergeCounters(let slots, let origin, _):
                guard let ordinal = Self.ordinal(of: origin) else { continue }
                let news = replicas[replica].mergeCounters(slots, from: ordinal, nowMs: nowMs)
                machines[replica].onCounterNews(news, origin: origin)
            case .restoreOwnCounters(let slots):
                replicas[replica].restoreOwnCounters(slots, nowMs: nowMs)
            case .counterRecoveryFinished(let answered, _):
                replicas[replica].endCounterRecovery()
                recoveriesFinished.append((replica, answered))
            case .antiEntropyAnswered:
                break
            case .applyAudit, .sendAuditEntries:
                // The simulated replicas keep no audit trail (their view sends no digest).
                break
            case .mergeEscrow(let rows, let peer):
                replicas[replica].mergeEscrowRows(rows, of: peer.name, nowMs: nowMs)
            case .handOver(let wants, let peer):
                let rows = wants.compactMap { replicas[replica].handOver($0, to: peer.name, nowMs: nowMs) }
                perform(machines[replica].onEscrowRows(rows), at: replica)
            case .restoreOwnEscrow(let rows):
                replicas[replica].mergeEscrowRows(rows, of: replicas[replica].node, nowMs: nowMs)
            }
        }
    }

    private mutating func send(_ message: DataMessage, from: Int, to: Int) {
        messagesSent += 1
        bytesSent += messageBytes(message)
        let source = Self.node(from)
        let target = Self.node(to)
        // The node sends only to members it has as live (it has no stream to the others).
        guard machines[from].live.contains(target), !brokenStreams.contains([from, to]) else { return }
        let link = network.conditions(from: source, to: target)
        guard network.canReach(from: source, to: target), !chance(link.loss) else {
            breakStream(from: from, to: to)
            return
        }
        for _ in 0..<(chance(link.duplication) ? 2 : 1) {
            let delay = link.minDelayMs + Int64(random.next() % UInt64(max(1, link.maxDelayMs - link.minDelayMs + 1)))
            schedule(.deliver(message, from: from, to: to), atMs: nowMs + delay)
        }
    }

    /// The stream from `from` to `to` lost a message: it is down until a reconnect.
    private mutating func breakStream(from: Int, to: Int) {
        guard brokenStreams.insert([from, to]).inserted else { return }
        schedule(.reconnect(from: from, to: to), atMs: nowMs + delay(in: reconnectDelayMs))
    }

    private mutating func delay(in range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    static func index(of node: NodeID) -> Int? {
        node.name.hasPrefix("r") ? Int(node.name.dropFirst()) : nil
    }

    /// Where a replica keeps a peer's counts: ordinal 0 is its own, replica i's are at i + 1.
    static func ordinal(of node: NodeID) -> NodeOrdinal? {
        index(of: node).map { NodeOrdinal($0 + 1) }
    }

    public mutating func run(forMs duration: Int64) {
        let end = nowMs + duration
        while let next = events.min, next.atMs <= end {
            let event = events.removeMin()
            nowMs = max(nowMs, event.atMs)
            switch event.kind {
            case .deliver(let message, let from, let to):
                let view = GatekeeperIndexView(gatekeeper: replicas[to], ordinal: Self.ordinal)
                perform(machines[to].onMessage(message, from: Self.node(from), index: view), at: to)
            case .antiEntropy(let replica):
                let view = GatekeeperIndexView(gatekeeper: replicas[replica], ordinal: Self.ordinal)
                perform(machines[replica].onAntiEntropyTimer(index: view), at: replica)
                schedule(.antiEntropy(replica), atMs: nowMs + antiEntropyMs)
            case .counterTick(let replica):
                let dirty = replicas[replica].takeDirtyCounterRecords()
                let changes = replicas[replica].takeCounterChanges(ofRecords: dirty[...], nowMs: nowMs, rule: rule)
                    + replicas[replica].takeThrottleChanges()
                let retransmits = MembershipSettings().retransmitLimit(members: replicas.count)
                perform(machines[replica].onCounterTick(ownChanges: changes, retransmitLimit: retransmits), at: replica)
                perform(machines[replica].onEscrowRows(replicas[replica].takeChangedCreditRows()), at: replica)
                schedule(.counterTick(replica), atMs: nowMs + counterSyncMs)
            case .reconnect(let from, let to):
                guard network.canReach(from: Self.node(from), to: Self.node(to)) else {
                    schedule(.reconnect(from: from, to: to), atMs: nowMs + delay(in: reconnectDelayMs))
                    continue
                }
                brokenStreams.remove([from, to])
                streamReconnects += 1
                let view = GatekeeperIndexView(gatekeeper: replicas[from], ordinal: Self.ordinal)
                perform(machines[from].onStreamConnected(Self.node(to), index: view), at: from)
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
        return replicas.allSatisfy { $0.digest == expected } && countsConverged
    }

    /// Every replica's total (its own count plus every peer's) in every window it holds
    /// equals the model's, and it holds each bucket's latest window.
    public var countsConverged: Bool {
        replicas.indices.allSatisfy { countMismatches(replica: $0).isEmpty }
    }

    /// Windows where `replica`'s total differs from the model: (bucket, window, held, model).
    public func countMismatches(replica: Int) -> [(bucket: CounterBucket, window: Int64, held: Int64, model: Int64)] {
        var held: [CounterBucket: [Int64: Int64]] = [:]
        for ordinal in 0...replicas.count {
            for slot in replicas[replica].counterSlots(of: NodeOrdinal(ordinal)) {
                held[slot.bucket, default: [:]][slot.windowIndex, default: 0] += slot.count
            }
        }
        var mismatches: [(bucket: CounterBucket, window: Int64, held: Int64, model: Int64)] = []
        for (bucket, windows) in countModel {
            guard let latest = windows.keys.max() else { continue }
            let mine = held[bucket] ?? [:]
            for (window, count) in mine where count != windows[window, default: 0] {
                mismatches.append((bucket, window, count, windows[window, default: 0]))
            }
            if mine[latest] == nil { mismatches.append((bucket, latest, 0, windows[latest]!)) }
        }
        return mismatches
    }

    /// How many replicas already hold `record` (or something newer).
    public func holders(of record: KeyRecord) -> Int {
        replicas.filter { $0.record(id: record.id).map { $0.precedence >= record.precedence } ?? false }.count
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
    /// Where the replica keeps a peer's counts.
    let ordinal: (NodeID) -> NodeOrdinal?

    func digest() -> ReplicaDigest { gatekeeper.digest }
    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { gatekeeper.entries(inBuckets: buckets) }
    func records(ids: [String]) -> [KeyRecord] { gatekeeper.records(ids: ids) }
    func counterSlots(heldFor node: NodeID) -> [CounterSlot] { ordinal(node).map { gatekeeper.counterSlots(of: $0) } ?? [] }
    func ownCounterSlots() -> [CounterSlot] { gatekeeper.counterSlots(of: 0) }
    func escrowRows(heldFor node: NodeID) -> [EscrowRow] { gatekeeper.escrowRows(of: node.name, inRecords: 0..<gatekeeper.keyCount) }
    func ownEscrowRows() -> [EscrowRow] { gatekeeper.escrowRows(of: gatekeeper.node, inRecords: 0..<gatekeeper.keyCount) }
}
