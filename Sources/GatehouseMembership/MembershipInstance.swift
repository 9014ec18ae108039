import GatehouseCore

/// SWIM with Lifeguard, as a value type: events go in (`on…` methods), directives come out.
///
/// No sockets, no clock, no randomness of its own: time arrives with every event and
/// randomness comes from the seed, so a whole cluster can be simulated deterministically.
/// Modelled on hashicorp/memberlist's behaviour and apple/swift-cluster-membership's shape.
public struct MembershipInstance: Sendable {
    public let id: NodeID
    public let address: MemberAddress
    public let settings: MembershipSettings
    public private(set) var incarnation: UInt64
    public private(set) var members: [NodeID: Member] = [:]
    /// Member ids in order, and how many are active: kept up to date by `store`, so choosing
    /// random members and sizing the cluster never scan everything.
    private var memberIDs: [NodeID] = []
    private var activeOthers = 0
    /// Local health awareness score, 0 (healthy) up to `awarenessMaxMultiplier − 1`.
    public private(set) var awareness = 0
    public private(set) var stats = MembershipStats()
    public private(set) var isLeaving = false

    private var random: SplitMix64
    private var sequence: UInt32 = 0
    private var probeOrder: [NodeID] = []
    /// Members suspected by others that we have not probed since: probed next, so an
    /// independent confirmation (or the suspect's refutation, via the buddy ping) comes fast.
    private var suspectsToProbe: [NodeID] = []
    private var probeCursor = 0
    private var pendingProbe: PendingProbe?
    /// Other members' clock offsets, measured on direct probes.
    public private(set) var clockOffsets: ClockOffsets
    private var relays: [UInt32: Relay] = [:]
    private var suspicions: [NodeID: Suspicion] = [:]
    private var broadcasts = BroadcastQueue()
    /// Incarnations of reaped members: old gossip about them must not bring them back.
    private var forgotten: [NodeID: UInt64] = [:]
    private var payloadSequence: UInt64 = 0
    private var seenPayloads: Set<PayloadID> = []
    private var seenPayloadOrder: [PayloadID] = []
    static let seenPayloadMemory = 8_192

    struct PendingProbe: Sendable {
        var sequence: UInt32
        var target: NodeID
        var startMs: Int64
        var expectedNacks = 0
        var nacks = 0
    }

    struct Relay: Sendable {
        var origin: MemberAddress
        var originSequence: UInt32
    }

    public init(id: NodeID, address: MemberAddress, settings: MembershipSettings = MembershipSettings(), seed: UInt64, incarnation: UInt64 = 0) {
        self.id = id
        self.address = address
        self.settings = settings
        self.incarnation = incarnation
        random = SplitMix64(seed: seed)
        clockOffsets = ClockOffsets(maxRoundTripMs: settings.probeTimeoutMs, maxAgeMs: settings.clockSampleMaxAgeMs)
    }

    /// The cluster's wall clock minus this node's (`ClockOffsets`), or `nil` before any sample.
    public func clusterClockOffsetMs(nowMs: Int64) -> Int64? {
        clockOffsets.clusterOffsetMs(nowMs: nowMs)
    }

    // MARK: - Views

    /// Members that take part (alive or suspect), this node included.
    public var activeCount: Int { 1 + activeOthers }

    /// The one place members change, keeping the id list and the active count in step.
    private mutating func store(_ member: Member) {
        if let old = members[member.id] {
            if old.status.isActive { activeOthers -= 1 }
        } else {
            let position = insertionIndex(of: member.id)
            memberIDs.insert(member.id, at: position)
        }
        if member.status.isActive { activeOthers += 1 } else { clockOffsets.forget(member.id) }
        members[member.id] = member
    }

    private mutating func forget(_ id: NodeID) {
        guard let old = members.removeValue(forKey: id) else { return }
        clockOffsets.forget(id)
        if old.status.isActive { activeOthers -= 1 }
        let position = insertionIndex(of: id)
        if position < memberIDs.count, memberIDs[position] == id { memberIDs.remove(at: position) }
    }

    private func insertionIndex(of id: NodeID) -> Int {
        var low = 0
        var high = memberIDs.count
        while low < high {
            let middle = (low + high) / 2
            if memberIDs[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// This node as others should see it.
    public var me: Member {
        Member(id: id, address: address, status: isLeaving ? .left : .alive, incarnation: incarnation, lastChangeMs: 0)
    }

    /// Everything this node knows, itself included: what push-pull sends.
    public func snapshot() -> [Member] {
        [me] + members.values.sorted { $0.id < $1.id }
    }

    public var currentProbeInterval: Int64 { settings.probeIntervalMs * Int64(awareness + 1) }
    public var currentProbeTimeout: Int64 { settings.probeTimeoutMs * Int64(awareness + 1) }
    public var pendingBroadcasts: Int { broadcasts.count }

    // MARK: - Lifecycle events

    /// Starts the timers.
    public mutating func onStart(nowMs: Int64) -> [MembershipDirective] {
        [
            .schedule(.probe, afterMs: Int64(random.next(upperBound: UInt64(settings.probeIntervalMs)))),
            .schedule(.gossip, afterMs: settings.gossipIntervalMs),
            .schedule(.reap, afterMs: settings.probeIntervalMs),
            .schedule(.pushPull, afterMs: settings.pushPullIntervalMs),
            .schedule(.reconnect, afterMs: settings.reconnectIntervalMs),
        ]
    }

    /// A graceful leave: tells everyone, then the shell stops after a gossip round or two.
    public mutating func onLeave(nowMs: Int64) -> [MembershipDirective] {
        guard !isLeaving else { return [] }
        isLeaving = true
        incarnation += 1
        broadcasts.enqueue(.dead(id, incarnation: incarnation, declarer: id))
        return gossipRound()
    }

    /// Queues an application payload for epidemic dissemination; `nil` if it cannot fit a datagram.
    public mutating func broadcast(payload: [UInt8]) -> PayloadID? {
        payloadSequence += 1
        let payloadID = PayloadID(origin: id, sequence: payloadSequence)
        let item = Gossip.payload(payloadID, payload)
        let envelope = MembershipWireSize.envelope(.gossip(source: id, gossip: [])) + ClusterKeyring.overhead
        guard MembershipWireSize.gossip(item) + envelope <= settings.maxDatagramBytes else {
            return nil
        }
        remember(payloadID)
        broadcasts.enqueue(item)
        return payloadID
    }

    /// Sends a payload to every active member at once (one datagram each) and queues it for
    /// gossip too, for redundancy. `nil` if it does not fit a datagram.
    public mutating func broadcastNow(payload: [UInt8]) -> [MembershipDirective]? {
        guard let payloadID = broadcast(payload: payload) else { return nil }
        let message = MembershipMessage.gossip(source: id, gossip: [.payload(payloadID, payload)])
        return memberIDs.compactMap { memberID in
            guard let member = members[memberID], member.status.isActive else { return nil }
            return .send(message, to: member.address)
        }
    }

    // MARK: - Timers

    public mutating func onTimer(_ timer: MembershipTimer, nowMs: Int64) -> [MembershipDirective] {
        switch timer {
        case .probe:
            return probe(nowMs: nowMs)
        case .probeTimeout(let sequence):
            return probeTimedOut(sequence: sequence, nowMs: nowMs)
        case .indirectProbeTimeout(let sequence):
            return probeRoundEnded(sequence: sequence, nowMs: nowMs)
        case .relayTimeout(let sequence):
            guard let relay = relays.removeValue(forKey: sequence) else { return [] }
            stats.nacksSent += 1
            return [.send(.nack(sequence: relay.originSequence, source: id), to: relay.origin)]
        case .suspicion(let member):
            return suspicionTimerFired(member, nowMs: nowMs)
        case .gossip:
            return gossipRound() + [.schedule(.gossip, afterMs: settings.gossipIntervalMs)]
        case .reap:
            reap(nowMs: nowMs)
            return [.schedule(.reap, afterMs: settings.probeIntervalMs)]
        case .pushPull:
            var directives: [MembershipDirective] = [.schedule(.pushPull, afterMs: settings.pushPullIntervalMs)]
            if let peer = randomMembers(count: 1, where: { $0.status.isActive }).first {
                directives.append(.pushPull(with: peer.address))
            }
            return directives
        case .reconnect:
            var directives: [MembershipDirective] = [.schedule(.reconnect, afterMs: settings.reconnectIntervalMs)]
            if !isLeaving, let peer = randomMembers(count: 1, where: { $0.status == .dead }).first {
                directives.append(.pushPull(with: peer.address))
            }
            return directives
        }
    }

    private mutating func probe(nowMs: Int64) -> [MembershipDirective] {
        var directives: [MembershipDirective] = [.schedule(.probe, afterMs: currentProbeInterval)]
        if let unfinished = pendingProbe {
            // The round ended without a verdict (e.g. its timer was lost): treat as failed.
            directives += probeRoundEnded(sequence: unfinished.sequence, nowMs: nowMs)
        }
        guard !isLeaving, let target = nextProbeTarget(), let member = members[target] else { return directives }
        sequence &+= 1
        pendingProbe = PendingProbe(sequence: sequence, target: target, startMs: nowMs)
        stats.probes += 1
        var buddy: [Gossip] = []
        if member.status == .suspect {
            // Lifeguard's buddy system: tell a suspect it is suspected, so it can refute at once.
            buddy = [.suspect(target, incarnation: member.incarnation, suspector: id)]
        }
        let ping = MembershipMessage.ping(sequence: sequence, target: target, source: id, sourceAddress: address, gossip: buddy)
        directives.append(.send(withPiggyback(ping), to: member.address))
        directives.append(.schedule(.probeTimeout(sequence: sequence), afterMs: currentProbeTimeout))
        return directives
    }

    /// Suspects others reported first, then round-robin over the active members,
    /// reshuffled at the start of every pass.
    private mutating func nextProbeTarget() -> NodeID? {
        while !suspectsToProbe.isEmpty {
            let suspect = suspectsToProbe.removeFirst()
            if members[suspect]?.status == .suspect { return suspect }
        }
        for _ in 0..<2 {
            while probeCursor < probeOrder.count {
                let candidate = probeOrder[probeCursor]
                probeCursor += 1
                if members[candidate]?.status.isActive == true { return candidate }
            }
            probeOrder = memberIDs.filter { members[$0]?.status.isActive == true }
            random.shuffle(&probeOrder)
            probeCursor = 0
            if probeOrder.isEmpty { return nil }
        }
        return nil
    }

    private mutating func probeTimedOut(sequence: UInt32, nowMs: Int64) -> [MembershipDirective] {
        guard var pending = pendingProbe, pending.sequence == sequence, let target = members[pending.target] else { return [] }
        let helpers = randomMembers(count: settings.indirectChecks, where: { $0.status == .alive && $0.id != pending.target })
        pending.expectedNacks = helpers.count
        pendingProbe = pending
        var directives: [MembershipDirective] = []
        for helper in helpers {
            stats.indirectProbes += 1
            let request = MembershipMessage.pingRequest(
                sequence: sequence, target: target.id, targetAddress: target.address, source: id, sourceAddress: address, gossip: [])
            directives.append(.send(withPiggyback(request), to: helper.address))
        }
        let roundEnd = max(currentProbeTimeout, pending.startMs + currentProbeInterval - 1 - nowMs)
        directives.append(.schedule(.indirectProbeTimeout(sequence: sequence), afterMs: roundEnd))
        return directives
    }

    private mutating func probeRoundEnded(sequence: UInt32, nowMs: Int64) -> [MembershipDirective] {
        guard let pending = pendingProbe, pending.sequence == sequence else { return [] }
        pendingProbe = nil
        stats.failedProbes += 1
        // Missing nacks mean our own messages may not be getting through: we are the slow one.
        adjustAwareness(by: pending.expectedNacks - pending.nacks)
        guard let member = members[pending.target], member.status.isActive else { return [] }
        return applySuspect(pending.target, incarnation: member.incarnation, suspector: id, nowMs: nowMs)
    }

    private mutating func suspicionTimerFired(_ member: NodeID, nowMs: Int64) -> [MembershipDirective] {
        guard let suspicion = suspicions[member], var state = members[member], state.status == .suspect,
            state.incarnation == suspicion.incarnation
        else { return [] }
        guard nowMs >= suspicion.deadlineMs else {
            return [.schedule(.suspicion(member), afterMs: suspicion.deadlineMs - nowMs)]
        }
        suspicions[member] = nil
        let previous = state.status
        state.status = .dead
        state.lastChangeMs = nowMs
        store(state)
        stats.deathsDeclared += 1
        broadcasts.enqueue(.dead(member, incarnation: state.incarnation, declarer: id))
        return [.memberChanged(state, previous: previous)]
    }

    private mutating func reap(nowMs: Int64) {
        for member in members.values where !member.status.isActive
            && nowMs - member.lastChangeMs >= (member.status == .left ? settings.tombstoneMs : settings.deadRetentionMs)
        {
            forget(member.id)
            forgotten[member.id] = member.incarnation
        }
    }

    // MARK: - Messages

    public mutating func onMessage(_ message: MembershipMessage, nowMs: Int64) -> [MembershipDirective] {
        var directives = apply(message.gossip, nowMs: nowMs)
        switch message {
        case .ping(let sequence, let target, _, let sourceAddress, _):
            guard target == id else { break }
            directives.append(.send(withPiggyback(.ack(sequence: sequence, source: id, sentAtMs: nowMs, gossip: [])), to: sourceAddress))
        case .pingRequest(let originSequence, let target, let targetAddress, _, let sourceAddress, _):
            guard target != id else {
                directives.append(.send(.ack(sequence: originSequence, source: id, sentAtMs: nowMs, gossip: []), to: sourceAddress))
                break
            }
            sequence &+= 1
            relays[sequence] = Relay(origin: sourceAddress, originSequence: originSequence)
            let ping = MembershipMessage.ping(sequence: sequence, target: target, source: id, sourceAddress: address, gossip: [])
            directives.append(.send(withPiggyback(ping), to: targetAddress))
            directives.append(.schedule(.relayTimeout(sequence: sequence), afterMs: settings.probeTimeoutMs * 8 / 10))
        case .ack(let sequence, let source, let sentAtMs, _):
            if let pending = pendingProbe, pending.sequence == sequence {
                pendingProbe = nil
                adjustAwareness(by: -1)
                // Only the target's own answer times the target's clock (a relayed ack's
                // round trip includes the relay).
                if source == pending.target {
                    clockOffsets.record(member: source, sentMs: pending.startMs, theirMs: sentAtMs, receivedMs: nowMs)
                }
            } else if let relay = relays.removeValue(forKey: sequence) {
                directives.append(.send(.ack(sequence: relay.originSequence, source: id, sentAtMs: nowMs, gossip: []), to: relay.origin))
            }
        case .nack(let sequence, _):
            if var pending = pendingProbe, pending.sequence == sequence {
                pending.nacks += 1
                pendingProbe = pending
            }
        case .gossip:
            break
        }
        return directives
    }

    /// The answer of a push-pull exchange (or a join) with another member.
    public mutating func onPushPull(_ remote: [Member], nowMs: Int64) -> [MembershipDirective] {
        var directives: [MembershipDirective] = []
        for member in remote {
            switch member.status {
            case .alive:
                directives += applyAlive(member.id, incarnation: member.incarnation, address: member.address, nowMs: nowMs)
            case .left:
                directives += applyDead(member.id, incarnation: member.incarnation, declarer: member.id, nowMs: nowMs)
            case .suspect, .dead:
                // A remote verdict of death is only a suspicion here: we check for ourselves.
                directives += applyAlive(member.id, incarnation: member.incarnation, address: member.address, nowMs: nowMs, announce: false)
                directives += applySuspect(member.id, incarnation: member.incarnation, suspector: NodeID("push-pull"), nowMs: nowMs)
            }
        }
        return directives
    }

    // MARK: - Gossip

    private mutating func apply(_ gossip: [Gossip], nowMs: Int64) -> [MembershipDirective] {
        var directives: [MembershipDirective] = []
        for item in gossip {
            switch item {
            case .alive(let member, let incarnation, let address):
                directives += applyAlive(member, incarnation: incarnation, address: address, nowMs: nowMs)
            case .suspect(let member, let incarnation, let suspector):
                directives += applySuspect(member, incarnation: incarnation, suspector: suspector, nowMs: nowMs)
            case .dead(let member, let incarnation, let declarer):
                directives += applyDead(member, incarnation: incarnation, declarer: declarer, nowMs: nowMs)
            case .payload(let payloadID, let bytes):
                guard payloadID.origin != id, !seenPayloads.contains(payloadID) else { continue }
                remember(payloadID)
                broadcasts.enqueue(item)
                directives.append(.deliver(bytes, from: payloadID.origin))
            }
        }
        return directives
    }

    private mutating func remember(_ payloadID: PayloadID) {
        seenPayloads.insert(payloadID)
        seenPayloadOrder.append(payloadID)
        if seenPayloadOrder.count > Self.seenPayloadMemory * 2 {
            for old in seenPayloadOrder.prefix(Self.seenPayloadMemory) { seenPayloads.remove(old) }
            seenPayloadOrder.removeFirst(Self.seenPayloadMemory)
        }
    }

    /// Answers a claim that we are suspect, dead or at a later incarnation: only a claim about
    /// our current incarnation (or a later one) needs an answer — older ones were answered.
    /// The refutation goes out at once rather than on the next gossip tick, since the
    /// suspicion it answers is already counting down.
    private mutating func refute(_ claimed: UInt64) -> [MembershipDirective] {
        guard claimed >= incarnation else { return [] }
        incarnation = claimed + 1
        stats.refutations += 1
        broadcasts.enqueue(.alive(id, incarnation: incarnation, address: address))
        return gossipRound()
    }

    mutating func applyAlive(_ member: NodeID, incarnation claimed: UInt64, address memberAddress: MemberAddress, nowMs: Int64, announce: Bool = true) -> [MembershipDirective] {
        if member == id {
            guard claimed > incarnation, !isLeaving else { return [] }
            return refute(claimed)
        }
        guard var state = members[member] else {
            if let reaped = forgotten[member], claimed <= reaped { return [] }
            forgotten[member] = nil
            let joined = Member(id: member, address: memberAddress, status: .alive, incarnation: claimed, lastChangeMs: nowMs)
            store(joined)
            if announce { broadcasts.enqueue(.alive(member, incarnation: claimed, address: memberAddress)) }
            return [.memberChanged(joined, previous: nil)]
        }
        guard claimed > state.incarnation else { return [] }
        let previous = state.status
        state.status = .alive
        state.incarnation = claimed
        state.address = memberAddress
        state.lastChangeMs = nowMs
        store(state)
        suspicions[member] = nil
        if announce { broadcasts.enqueue(.alive(member, incarnation: claimed, address: memberAddress)) }
        return [.memberChanged(state, previous: previous)]
    }

    mutating func applySuspect(_ member: NodeID, incarnation claimed: UInt64, suspector: NodeID, nowMs: Int64) -> [MembershipDirective] {
        if member == id {
            guard !isLeaving, claimed >= incarnation else { return [] }
            // Someone suspects us: refute, and take it as a hint that we are the slow one.
            adjustAwareness(by: 1)
            return refute(claimed)
        }
        guard var state = members[member], claimed >= state.incarnation, state.status.isActive else { return [] }
        if state.status == .suspect, var suspicion = suspicions[member], suspicion.incarnation == claimed {
            guard suspicion.confirm(by: suspector) else { return [] }
            suspicions[member] = suspicion
            broadcasts.enqueue(.suspect(member, incarnation: claimed, suspector: suspector))
            return [.schedule(.suspicion(member), afterMs: max(0, suspicion.deadlineMs - nowMs))]
        }
        let previous = state.status
        state.status = .suspect
        state.incarnation = claimed
        state.lastChangeMs = nowMs
        store(state)
        let others = activeCount - 2
        let suspicion = Suspicion(
            incarnation: claimed, startMs: nowMs, bounds: settings.suspicionBounds(members: activeCount),
            expectedConfirmations: max(0, min(settings.suspicionMultiplier - 2, others)), firstSuspector: suspector)
        suspicions[member] = suspicion
        stats.suspicionsStarted += 1
        if suspector != id && !suspectsToProbe.contains(member) { suspectsToProbe.append(member) }
        broadcasts.enqueue(.suspect(member, incarnation: claimed, suspector: suspector))
        var directives: [MembershipDirective] = [.schedule(.suspicion(member), afterMs: max(0, suspicion.deadlineMs - nowMs))]
        if previous != .suspect { directives.append(.memberChanged(state, previous: previous)) }
        return directives
    }

    mutating func applyDead(_ member: NodeID, incarnation claimed: UInt64, declarer: NodeID, nowMs: Int64) -> [MembershipDirective] {
        if member == id {
            guard declarer != id, !isLeaving else { return [] }
            return refute(claimed)
        }
        guard var state = members[member], claimed >= state.incarnation, state.status.isActive else { return [] }
        let previous = state.status
        state.status = declarer == member ? .left : .dead
        state.incarnation = claimed
        state.lastChangeMs = nowMs
        store(state)
        suspicions[member] = nil
        broadcasts.enqueue(.dead(member, incarnation: claimed, declarer: declarer))
        return [.memberChanged(state, previous: previous)]
    }

    // MARK: - Helpers

    private mutating func adjustAwareness(by delta: Int) {
        awareness = min(settings.awarenessMaxMultiplier - 1, max(0, awareness + delta))
    }

    /// `message` with as much pending gossip as fits in a datagram.
    private mutating func withPiggyback(_ message: MembershipMessage) -> MembershipMessage {
        let budget = settings.maxDatagramBytes - ClusterKeyring.overhead - MembershipWireSize.message(message)
        let extra = broadcasts.take(budget: budget, limit: settings.retransmitLimit(members: activeCount))
        guard !extra.isEmpty else { return message }
        switch message {
        case .ping(let sequence, let target, let source, let sourceAddress, let gossip):
            return .ping(sequence: sequence, target: target, source: source, sourceAddress: sourceAddress, gossip: gossip + extra)
        case .pingRequest(let sequence, let target, let targetAddress, let source, let sourceAddress, let gossip):
            return .pingRequest(sequence: sequence, target: target, targetAddress: targetAddress, source: source, sourceAddress: sourceAddress, gossip: gossip + extra)
        case .ack(let sequence, let source, let sentAtMs, let gossip):
            return .ack(sequence: sequence, source: source, sentAtMs: sentAtMs, gossip: gossip + extra)
        case .gossip(let source, let gossip):
            return .gossip(source: source, gossip: gossip + extra)
        case .nack:
            return message
        }
    }

    /// Sends pending broadcasts to a few random members (and to recently dead ones, so a
    /// member wrongly declared dead hears it and can refute).
    private mutating func gossipRound() -> [MembershipDirective] {
        guard !broadcasts.isEmpty else { return [] }
        let targets = randomMembers(count: settings.gossipFanout) { member in
            member.status.isActive || member.status == .dead
        }
        var directives: [MembershipDirective] = []
        for target in targets {
            let message = withPiggyback(.gossip(source: id, gossip: []))
            guard !message.gossip.isEmpty else { break }
            directives.append(.send(message, to: target.address))
        }
        return directives
    }

    /// Up to `count` distinct random members satisfying `include`. Samples positions first
    /// (cheap in large clusters where most members qualify), then falls back to a full scan.
    private mutating func randomMembers(count: Int, where include: (Member) -> Bool) -> [Member] {
        guard count > 0, !memberIDs.isEmpty else { return [] }
        var chosen: [Member] = []
        var chosenIDs = Set<NodeID>()
        if memberIDs.count > count * 4 {
            for _ in 0..<(count * 8) where chosen.count < count {
                let candidate = memberIDs[Int(random.next(upperBound: UInt64(memberIDs.count)))]
                if let member = members[candidate], include(member), chosenIDs.insert(candidate).inserted {
                    chosen.append(member)
                }
            }
            if chosen.count == count { return chosen }
        }
        var candidates = memberIDs.compactMap { members[$0] }.filter { include($0) && !chosenIDs.contains($0.id) }
        let needed = min(count - chosen.count, candidates.count)
        // Partial Fisher–Yates: only the first `needed` positions need shuffling.
        for index in 0..<needed {
            let pick = index + Int(random.next(upperBound: UInt64(candidates.count - index)))
            candidates.swapAt(index, pick)
        }
        return chosen + candidates.prefix(needed)
    }
}

/// The instance's own deterministic randomness (SplitMix64): the seed comes from outside.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func next(upperBound: UInt64) -> UInt64 {
        guard upperBound > 0 else { return 0 }
        return next() % upperBound
    }

    mutating func shuffle<Element>(_ array: inout [Element]) {
        guard array.count > 1 else { return }
        for index in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(index, Int(next(upperBound: UInt64(index + 1))))
        }
    }
}
