import GatehouseMembership
import HeapModule

/// Many `MembershipInstance`s in one process over a `SimulatedNetwork`, driven by a
/// simulated clock: the same seed gives the same run, event for event.
///
/// Nodes can crash (all their state is gone), restart (a fresh instance that joins again),
/// stall (their events wait, as in a long GC pause) and leave.
public struct MembershipSimulator {
    public private(set) var nowMs: Int64 = 0
    public var network: SimulatedNetwork
    /// How far each node's wall clock is from the simulation's (a node whose NTP broke): the
    /// instance of that node reads `nowMs + offset`; delays and timers are unaffected.
    public var clockOffsetMs: [NodeID: Int64] = [:]
    public let settings: MembershipSettings
    public private(set) var nodes: [NodeID: SimulatedNode] = [:]
    /// Every status change any node observed, in order.
    public private(set) var observations: [Observation] = []
    /// Application payloads delivered, per receiving node.
    public private(set) var deliveries: [NodeID: [(at: Int64, payload: [UInt8])]] = [:]
    public private(set) var messagesSent = 0
    public private(set) var bytesSent = 0
    private var events = Heap<Event>()
    private var eventSequence: UInt64 = 0
    private var random: SeededGenerator
    private var addressBook: [MemberAddress: NodeID] = [:]

    public struct SimulatedNode {
        public var instance: MembershipInstance
        public var isUp: Bool
        public var stalledUntilMs: Int64?
        /// Bumped on crash so events of the previous life are ignored.
        var generation: Int
    }

    public struct Observation: Hashable, Sendable {
        public var atMs: Int64
        public var observer: NodeID
        public var member: Member
        public var previous: MemberStatus?
    }

    enum EventKind {
        case timer(NodeID, MembershipTimer)
        case message(NodeID, MembershipMessage)
        case pushPull(NodeID, with: NodeID)
    }

    struct Event: Comparable {
        var atMs: Int64
        var sequence: UInt64
        var generation: Int
        var kind: EventKind

        static func < (lhs: Event, rhs: Event) -> Bool {
            lhs.atMs != rhs.atMs ? lhs.atMs < rhs.atMs : lhs.sequence < rhs.sequence
        }
        static func == (lhs: Event, rhs: Event) -> Bool { lhs.atMs == rhs.atMs && lhs.sequence == rhs.sequence }
    }

    public init(seed: UInt64, settings: MembershipSettings = MembershipSettings(), network: SimulatedNetwork = SimulatedNetwork()) {
        random = SeededGenerator(seed: seed)
        self.settings = settings
        self.network = network
    }

    public static func address(of id: NodeID) -> MemberAddress {
        MemberAddress(host: "sim-\(id.name)", port: 7946)
    }

    // MARK: - Cluster changes

    /// Adds a node and joins it through `seed` (a push-pull exchange), or alone when `seed` is nil.
    public mutating func addNode(_ id: NodeID, joining seed: NodeID? = nil, incarnation: UInt64 = 0) {
        let instance = MembershipInstance(
            id: id, address: Self.address(of: id), settings: settings, seed: random.next(), incarnation: incarnation)
        let generation = (nodes[id]?.generation ?? 0) + 1
        nodes[id] = SimulatedNode(instance: instance, isUp: true, stalledUntilMs: nil, generation: generation)
        addressBook[Self.address(of: id)] = id
        run(node: id) { instance, now in instance.onStart(nowMs: now) }
        if let seed { schedule(.pushPull(id, with: seed), atMs: nowMs + 1, generation: generation) }
    }

    /// Starts `count` nodes named n1…nN, all joining through n1, and lets them settle.
    public mutating func bootstrap(count: Int, settleMs: Int64 = 10_000) {
        for index in 1...count {
            addNode(NodeID("n\(index)"), joining: index == 1 ? nil : NodeID("n1"))
        }
        run(forMs: settleMs)
    }

    /// The process dies: its state and pending events are gone.
    public mutating func crash(_ id: NodeID) {
        nodes[id]?.isUp = false
        nodes[id]?.generation += 1
    }

    /// A crashed node starts again from nothing and rejoins through `seed`.
    public mutating func restart(_ id: NodeID, joining seed: NodeID) {
        addNode(id, joining: seed)
    }

    /// The node stops processing (a pause): its events wait until `forMs` has passed.
    public mutating func stall(_ id: NodeID, forMs duration: Int64) {
        nodes[id]?.stalledUntilMs = nowMs + duration
    }

    public mutating func leave(_ id: NodeID) {
        run(node: id) { instance, now in instance.onLeave(nowMs: now) }
    }

    public mutating func broadcast(from id: NodeID, payload: [UInt8]) -> PayloadID? {
        guard var node = nodes[id], node.isUp else { return nil }
        let payloadID = node.instance.broadcast(payload: payload)
        nodes[id] = node
        return payloadID
    }

    // MARK: - Running

    public mutating func run(forMs duration: Int64) {
        run(untilMs: nowMs + duration)
    }

    public mutating func run(untilMs end: Int64) {
        while let next = events.min, next.atMs <= end {
            let event = events.removeMin()
            nowMs = max(nowMs, event.atMs)
            dispatch(event)
        }
        nowMs = max(nowMs, end)
    }

    /// Runs until `condition` holds or `limitMs` passes; returns the time it first held.
    public mutating func run(untilMs limit: Int64, stepMs: Int64 = 100, until condition: (MembershipSimulator) -> Bool) -> Int64? {
        while nowMs < limit {
            if condition(self) { return nowMs }
            run(untilMs: min(limit, nowMs + stepMs))
        }
        return condition(self) ? nowMs : nil
    }

    private mutating func dispatch(_ event: Event) {
        let target: NodeID
        switch event.kind {
        case .timer(let id, _), .message(let id, _), .pushPull(let id, _): target = id
        }
        guard let node = nodes[target], node.isUp, node.generation == event.generation || isMessage(event) else { return }
        if let stalled = node.stalledUntilMs {
            if nowMs < stalled {
                schedule(event.kind, atMs: stalled, generation: event.generation)
                return
            }
            nodes[target]?.stalledUntilMs = nil
        }
        switch event.kind {
        case .timer(let id, let timer):
            run(node: id) { instance, now in instance.onTimer(timer, nowMs: now) }
        case .message(let id, let message):
            run(node: id) { instance, now in instance.onMessage(message, nowMs: now) }
        case .pushPull(let id, let peer):
            guard let other = nodes[peer], other.isUp, network.canReach(from: id, to: peer), network.canReach(from: peer, to: id) else { return }
            let theirs = other.instance.snapshot()
            let ours = nodes[id]!.instance.snapshot()
            run(node: id) { instance, now in instance.onPushPull(theirs, nowMs: now) }
            run(node: peer) { instance, now in instance.onPushPull(ours, nowMs: now) }
        }
    }

    private func isMessage(_ event: Event) -> Bool {
        if case .message = event.kind { return true }
        return false
    }

    private mutating func run(node id: NodeID, _ body: (inout MembershipInstance, Int64) -> [MembershipDirective]) {
        guard var node = nodes[id], node.isUp else { return }
        let directives = body(&node.instance, nowMs + (clockOffsetMs[id] ?? 0))
        nodes[id] = node
        for directive in directives { carryOut(directive, by: id, generation: node.generation) }
    }

    private mutating func carryOut(_ directive: MembershipDirective, by id: NodeID, generation: Int) {
        switch directive {
        case .send(let message, let address):
            guard let to = addressBook[address] else { return }
            messagesSent += 1
            bytesSent += MembershipWireSize.message(message)
            guard network.canReach(from: id, to: to) else { return }
            let link = network.conditions(from: id, to: to)
            if chance(link.loss) { return }
            let copies = chance(link.duplication) ? 2 : 1
            for _ in 0..<copies {
                let delay = link.minDelayMs + Int64(random.next() % UInt64(max(1, link.maxDelayMs - link.minDelayMs + 1)))
                schedule(.message(to, message), atMs: nowMs + delay, generation: 0)
            }
        case .schedule(let timer, let afterMs):
            schedule(.timer(id, timer), atMs: nowMs + max(0, afterMs), generation: generation)
        case .memberChanged(let member, let previous):
            observations.append(Observation(atMs: nowMs, observer: id, member: member, previous: previous))
        case .deliver(let payload, _):
            deliveries[id, default: []].append((nowMs, payload))
        case .pushPull(let address):
            guard let peer = addressBook[address] else { return }
            schedule(.pushPull(id, with: peer), atMs: nowMs + 2, generation: generation)
        }
    }

    private mutating func schedule(_ kind: EventKind, atMs: Int64, generation: Int) {
        eventSequence += 1
        events.insert(Event(atMs: atMs, sequence: eventSequence, generation: generation, kind: kind))
    }

    private mutating func chance(_ probability: Double) -> Bool {
        probability > 0 && random.unit() < probability
    }

    // MARK: - Views

    /// What `observer` believes about `member`.
    public func status(of member: NodeID, seenBy observer: NodeID) -> MemberStatus? {
        nodes[observer]?.instance.members[member]?.status
    }

    public var upNodes: [NodeID] { nodes.filter { $0.value.isUp }.map(\.key).sorted() }

    /// Whether every up node other than `member` sees it with one of `statuses`.
    public func everyone(sees member: NodeID, as statuses: Set<MemberStatus>) -> Bool {
        upNodes.filter { $0 != member }.allSatisfy { observer in
            status(of: member, seenBy: observer).map(statuses.contains) ?? false
        }
    }

    /// Whether every up node sees every other up node alive (a full, healthy view).
    public var isFullyConverged: Bool {
        let up = upNodes
        return up.allSatisfy { observer in
            up.allSatisfy { member in member == observer || status(of: member, seenBy: observer) == .alive }
        }
    }
}
