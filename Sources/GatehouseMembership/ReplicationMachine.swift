import GatehouseCore

/// What the replication machine may read of this node's key index. The index itself (and
/// its lock) belongs to the shell; the machine only decides what to say to whom.
public protocol ReplicaIndexView {
    func digest() -> ReplicaDigest
    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry]
    func records(ids: [String]) -> [KeyRecord]
    /// The slots this node holds for `node`'s own counts, to give a restarted peer back.
    func counterSlots(heldFor node: NodeID) -> [CounterSlot]
    /// This node's own counts in every window that can still change.
    func ownCounterSlots() -> [CounterSlot]
    /// The escrow rows this node holds of `node`'s (to give a restarted peer back).
    func escrowRows(heldFor node: NodeID) -> [EscrowRow]
    /// This node's own escrow rows.
    func ownEscrowRows() -> [EscrowRow]
    /// The summary of the audit entries held, by hour (in memory: cheap to read).
    func auditDigest() -> AuditDigest
}

extension ReplicaIndexView {
    /// An index without an audit trail (the simulators') takes no part in audit exchange.
    public func auditDigest() -> AuditDigest { AuditDigest() }
}

/// What the replication machine wants done; the shell does exactly this and nothing else.
public enum ReplicationDirective: Hashable, Sendable {
    case send(DataMessage, to: NodeID)
    /// Records from a peer, to merge into the index (and persist) by the shell's rules;
    /// `repair` when they came by anti-entropy rather than as a pushed write.
    case apply([KeyRecord], from: NodeID, repair: Bool)
    /// Counter slots counted by `origin`, carried to us by `from`.
    case mergeCounters([CounterSlot], origin: NodeID, from: NodeID)
    /// Our own slots, as a peer kept them: restore them after a restart.
    case restoreOwnCounters([CounterSlot])
    /// Counter recovery after a start is over: `answered` gave their copies of our counts,
    /// `unanswered` were live but never answered (their copies are not restored).
    case counterRecoveryFinished(answered: [NodeID], unanswered: [NodeID])
    /// An anti-entropy round this node started with `peer` got its answer.
    case antiEntropyAnswered(by: NodeID, differingBuckets: Int)
    /// `peer`'s own escrow rows, from its stream: merge them.
    case mergeEscrow([EscrowRow], of: NodeID)
    /// `peer` asks for more of these ledgers: hand over what this node can spare, and tell
    /// every live member the resulting rows (`onEscrowRows`).
    case handOver([EscrowWant], to: NodeID)
    /// Our own escrow rows, as a peer kept them: restore them after a restart.
    case restoreOwnEscrow([EscrowRow])
    /// Audit entries from `from` (pushed, or by audit anti-entropy): keep the union.
    case applyAudit([AuditEntry], from: NodeID)
    /// Read this node's audit entries in `hours` (at most `limit`; from a hour holding more,
    /// a random run of `limit`, so repeated rounds cover it) and send them to `peer` in
    /// `auditEntries` messages, then `then` if any. The entries are on disk: the shell reads
    /// them away from the stream's thread, and sends in this order.
    case sendAuditEntries(hours: [Int64], limit: Int, to: NodeID, then: DataMessage?)
}

/// Key-record replication and counter exchange as a pure state machine, beside
/// `MembershipInstance`: events in (a local write, a message from a peer's stream, a timer,
/// a stream that came up), directives out. Randomness is injected; there is no clock.
///
/// - Every local write goes to every live member at once over its data stream.
/// - Anti-entropy: each round sends this node's digest to one random live member; the
///   receiver answers with the differing buckets' entries, the first side sends what the
///   other lacks and names what it wants, and the other sends those. Four one-way messages,
///   none waiting on a connection. A stream that (re)connects starts a round with that peer
///   at once, so what a broken stream lost is repaired then, not at the next timer; it also
///   gets this node's own counter slots again, since counts are sent only when they change
///   and one lost in the broken stream's buffers would otherwise stay lost.
/// - Counters: this node's due slots go to every live member up to `directLimit` members;
///   beyond that to `fanout` random members, who relay news (slots that grew a count) on
///   λ·log(N+1) later rounds — an epidemic, safe because slots merge as a G-counter.
public struct ReplicationMachine: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Most records moved in one anti-entropy step; the rest follow next round.
        public var maxRecordsPerExchange = 1_000
        /// Most entries in one digest reply (a frame's worth); the buckets left out are
        /// compared in a later round.
        public var maxEntriesPerReply = 8_192
        public var directLimit = 16
        public var fanout = 3
        /// Pending relays kept at most; the oldest are forgotten first.
        public var maxRelays = 4_096
        /// Most audit entries one answer to an audit digest sends (whole hours, newest
        /// first, at least one); the hours left out are compared again in a later round. Half
        /// the outbox's bound (`DataStreamOutbox.Limits.maxAuditEntries`), so a slow stream
        /// never drops what one round sends.
        public var maxAuditEntriesPerExchange = 10_000
        /// Counter ticks between two requests for our own counts to a member that has not
        /// answered, and how many ticks after the first the recovery gives up on those left
        /// (`CounterRecovery`). The shell sets them from its tick (`recoveryTicks`); these
        /// are those of the default 50 ms tick: every second, for half a minute.
        public var recoveryTicksBetweenAsks = 20
        public var recoveryMaxTicks = 600

        /// How long a recovery asks at most, and how often (`recoveryTicks`).
        public static let recoveryMaxMs: Int64 = 30_000
        public static let recoveryAskIntervalMs: Int64 = 1_000

        /// Sets the recovery's ticks for a counter tick of `tickMs`: a request every second,
        /// for half a minute, whatever the tick.
        public mutating func recoveryTicks(tickMs: Int64) {
            let tick = max(1, tickMs)
            recoveryTicksBetweenAsks = Int(max(1, Self.recoveryAskIntervalMs / tick))
            recoveryMaxTicks = Int(max(1, Self.recoveryMaxMs / tick))
        }

        public init(
            maxRecordsPerExchange: Int = 1_000, maxEntriesPerReply: Int = 8_192, directLimit: Int = 16, fanout: Int = 3, maxRelays: Int = 4_096
        ) {
            self.maxRecordsPerExchange = maxRecordsPerExchange
            self.maxEntriesPerReply = maxEntriesPerReply
            self.directLimit = directLimit
            self.fanout = fanout
            self.maxRelays = maxRelays
        }
    }

    struct Relay: Hashable, Sendable {
        var origin: NodeID
        var slots: [CounterSlot]
        /// Rounds left; `nil` until the first round that sends it sets λ·log(N+1).
        var remaining: Int?
    }

    public let me: NodeID
    public let settings: Settings
    private var random: SplitMix64
    private var relays: [Relay] = []
    /// Live members, this node excluded, as the membership last reported them.
    public private(set) var live: [NodeID] = []
    /// This node's audit summary at its previous anti-entropy round.
    private var previousAuditDigest: AuditDigest?
    /// Hours of this node's audit summary that changed between its last two rounds: still
    /// being written (here, or streaming in from the writer), so a peer's summary differs there
    /// only because entries are on their way. They are left out of this node's comparisons
    /// until a round finds them unchanged. Comparing them would send the whole hour in both
    /// directions every round: during a bulk import that is every entry written so far (each
    /// naming a thousand keys), round after round, on top of the stream that delivers them.
    public private(set) var unsettledAuditHours: Set<Int64> = []
    /// Getting our own counts back after a start, while it lasts (`onStartRecovery`).
    public private(set) var recovery: CounterRecovery?

    /// Whether this node is still getting its own counts back.
    public var isRecoveringCounts: Bool { recovery != nil }

    /// Whether our own counts may go to `peer` now: always, except while recovering, to a
    /// member that has not answered yet. A peer keeps the larger of two counts of a slot, so
    /// counts made since the start would come back inside its answer, which is added to them
    /// (`Gatekeeper.restoreOwnCounters`): they would count twice. A member gets our own
    /// counts whole when its answer has come.
    func mayReceiveOwnCounts(_ peer: NodeID) -> Bool {
        recovery.map { $0.answered.contains(peer) } ?? true
    }

    public init(me: NodeID, settings: Settings = Settings(), seed: UInt64) {
        self.me = me
        self.settings = settings
        random = SplitMix64(seed: seed)
    }

    public var pendingRelays: Int { relays.count }

    /// The membership changed: `members` are the live ones (alive or suspect), this node excluded.
    public mutating func onMembers(_ members: [NodeID]) {
        live = members.filter { $0 != me }
        if live.count <= settings.directLimit { relays.removeAll() }
    }

    /// A write made here, durable: to every live member.
    public func onLocalWrite(_ records: [KeyRecord]) -> [ReplicationDirective] {
        live.map { .send(.records(records), to: $0) }
    }

    /// Audit entries written here, durable: to every live member.
    public func onLocalAudit(_ entries: [AuditEntry]) -> [ReplicationDirective] {
        guard !entries.isEmpty else { return [] }
        return Self.auditChunks(entries).flatMap { chunk in live.map { .send(.auditEntries(chunk), to: $0) } }
    }

    /// Audit entries per message: an entry is at most about 80 KiB (`AuditRules`: 14 KiB of
    /// values, 1,000 key ids of 64 bytes), so this many stay inside a data-stream frame.
    public static let auditEntriesPerMessage = 48
    /// Hours per audit digest: about 15 bytes each, well inside a frame (two years of hours
    /// that each hold entries); older differing hours are left to their retention.
    public static let maxAuditDigestHours = 16_384

    /// `entries` as `auditEntries` messages, each within a frame.
    public static func auditMessages(_ entries: [AuditEntry]) -> [DataMessage] {
        auditChunks(entries).map { .auditEntries($0) }
    }

    static func auditChunks(_ entries: [AuditEntry]) -> [[AuditEntry]] {
        stride(from: 0, to: entries.count, by: auditEntriesPerMessage).map {
            Array(entries[$0..<min(entries.count, $0 + auditEntriesPerMessage)])
        }
    }

    /// A data stream to `peer` is up (first time or again): compare with it now, and give
    /// it our own counts (whole slots merge idempotently, so a repeat costs only bytes)
    /// unless it may not have them yet (`mayReceiveOwnCounts`).
    public func onStreamConnected(_ peer: NodeID, index: some ReplicaIndexView) -> [ReplicationDirective] {
        var directives: [ReplicationDirective] = [.send(.digest(index.digest()), to: peer)]
        directives += auditRound(with: peer, index: index)
        let own = mayReceiveOwnCounts(peer) ? index.ownCounterSlots() : []
        if !own.isEmpty { directives.append(.send(.counters(origin: me, slots: own), to: peer)) }
        for rows in Self.chunks(index.ownEscrowRows()) { directives.append(.send(.escrowRows(rows), to: peer)) }
        return directives
    }

    /// Slots per `countersReply`: the data stream's decoder takes at most
    /// `DataStreamLimits.maxSlotsPerFrame` (4,096) in one frame, and a peer that kept
    /// tens of thousands of our windows must still give them all back.
    public static let slotsPerCountersReply = 2_048

    /// `slots` as `countersReply` messages, each within a frame. Every part but the last is
    /// full and the last is not (an empty one is added when the slots fill the parts
    /// exactly): the asker knows the answer is complete when a short part arrives.
    static func counterReplies(_ slots: [CounterSlot]) -> [DataMessage] {
        var replies = stride(from: 0, to: slots.count, by: slotsPerCountersReply).map {
            DataMessage.countersReply(slots: Array(slots[$0..<min(slots.count, $0 + slotsPerCountersReply)]))
        }
        if slots.count % slotsPerCountersReply == 0 { replies.append(.countersReply(slots: [])) }
        return replies
    }

    /// Whether a `countersReply` of `count` slots is the last part of its answer.
    public static func endsCountersReply(slotCount count: Int) -> Bool { count < slotsPerCountersReply }

    /// Escrow rows per message: well inside a frame even for rows naming many members.
    static let escrowRowsPerMessage = 256

    static func chunks<Element>(_ elements: [Element]) -> [[Element]] {
        stride(from: 0, to: elements.count, by: escrowRowsPerMessage).map {
            Array(elements[$0..<min(elements.count, $0 + escrowRowsPerMessage)])
        }
    }

    /// The verify path ran low on these ledgers: ask every live member (each hands over
    /// part of what it does not use; more than needed is fine, it can be asked back).
    public func onEscrowWants(_ wants: [EscrowWant]) -> [ReplicationDirective] {
        guard !wants.isEmpty else { return [] }
        return Self.chunks(wants).flatMap { chunk in live.map { .send(.escrowWants(chunk), to: $0) } }
    }

    /// This node's own rows changed (a hand-over, credits spent): to every live member — the
    /// one that asked needs them to spend what it got, the others to report the same
    /// remaining credits and to give the rows back should this node restart.
    public func onEscrowRows(_ rows: [EscrowRow]) -> [ReplicationDirective] {
        guard !rows.isEmpty else { return [] }
        return Self.chunks(rows).flatMap { chunk in live.map { .send(.escrowRows(chunk), to: $0) } }
    }

    /// The anti-entropy timer: one round with a random live member. Also the clock of
    /// `unsettledAuditHours`: the hours whose summary changed since the previous tick.
    public mutating func onAntiEntropyTimer(index: some ReplicaIndexView) -> [ReplicationDirective] {
        let audit = index.auditDigest()
        if let previous = previousAuditDigest {
            unsettledAuditHours = Set(audit.buckets.keys.filter { audit.buckets[$0] != previous.buckets[$0] })
        }
        previousAuditDigest = audit
        guard !live.isEmpty else { return [] }
        let peer = live[Int(random.next(upperBound: UInt64(live.count)))]
        return [.send(.digest(index.digest()), to: peer)] + auditRound(with: peer, index: index)
    }

    /// This node just started: from the next counter tick on, ask the live members for the
    /// counts they kept for us until each answered (`CounterRecovery`).
    public mutating func onStartRecovery() {
        recovery = CounterRecovery(ticksBetweenAsks: settings.recoveryTicksBetweenAsks, maxTicks: settings.recoveryMaxTicks)
    }

    /// The counter-sync tick: this node's own slots due now (by `CounterSendRule`), and the
    /// requests of a counter recovery still going on. `retransmitLimit` is λ·log(N+1) for
    /// the current cluster size.
    public mutating func onCounterTick(ownChanges: [CounterSlot], retransmitLimit: Int) -> [ReplicationDirective] {
        guard !live.isEmpty else { return [] }
        return recoveryStep() + counterSends(ownChanges: ownChanges, retransmitLimit: retransmitLimit)
    }

    private mutating func recoveryStep() -> [ReplicationDirective] {
        guard var ongoing = recovery else { return [] }
        let step = ongoing.onTick(live: live)
        recovery = ongoing
        switch step {
        case .ask(let members):
            return members.map { .send(.countersRequest, to: $0) }
        case .wait:
            return []
        case .finished(let answered, let unanswered):
            recovery = nil
            return [.counterRecoveryFinished(answered: answered, unanswered: unanswered)]
        }
    }

    private mutating func counterSends(ownChanges: [CounterSlot], retransmitLimit: Int) -> [ReplicationDirective] {
        if live.count <= settings.directLimit {
            guard !ownChanges.isEmpty else { return [] }
            return live.filter(mayReceiveOwnCounts).map { .send(.counters(origin: me, slots: ownChanges), to: $0) }
        }
        if !ownChanges.isEmpty { relays.append(Relay(origin: me, slots: ownChanges, remaining: retransmitLimit)) }
        guard !relays.isEmpty else { return [] }
        var targets = live
        random.shuffle(&targets)
        targets = Array(targets.prefix(settings.fanout))
        var directives: [ReplicationDirective] = []
        for index in relays.indices {
            if relays[index].remaining == nil { relays[index].remaining = retransmitLimit }
            for target in targets where target != relays[index].origin && (relays[index].origin != me || mayReceiveOwnCounts(target)) {
                directives.append(.send(.counters(origin: relays[index].origin, slots: relays[index].slots), to: target))
            }
            relays[index].remaining! -= 1
        }
        relays.removeAll { ($0.remaining ?? 1) <= 0 }
        return directives
    }

    /// Slots that were news here (they grew a count), to relay in fan-out mode.
    public mutating func onCounterNews(_ slots: [CounterSlot], origin: NodeID) {
        guard live.count > settings.directLimit, !slots.isEmpty, origin != me else { return }
        relays.append(Relay(origin: origin, slots: slots, remaining: nil))
        if relays.count > settings.maxRelays { relays.removeFirst(relays.count - settings.maxRelays) }
    }

    /// A message arrived on the stream `from` opened to us (`from` is the authenticated member).
    public mutating func onMessage(_ message: DataMessage, from peer: NodeID, index: some ReplicaIndexView) -> [ReplicationDirective] {
        switch message {
        case .hello:
            return []
        case .records(let records):
            return records.isEmpty ? [] : [.apply(records, from: peer, repair: false)]
        case .digest(let theirs):
            // Answered even when nothing differs, so the sender knows its round completed.
            var buckets: [Int] = []
            var entries: [ReplicaEntry] = []
            for bucket in index.digest().differingBuckets(from: theirs) {
                let held = index.entries(inBuckets: [bucket])
                if !buckets.isEmpty && entries.count + held.count > settings.maxEntriesPerReply { break }
                buckets.append(bucket)
                entries += held
            }
            return [.send(.digestReply(buckets: buckets, entries: entries), to: peer)]
        case .digestReply(let buckets, let theirs):
            let valid = Set(buckets.filter { (0..<ReplicaDigest.bucketCount).contains($0) })
            var directives: [ReplicationDirective] = [.antiEntropyAnswered(by: peer, differingBuckets: valid.count)]
            guard !valid.isEmpty else { return directives }
            let diff = ReplicaDiff.compare(ours: index.entries(inBuckets: valid), theirs: theirs)
            let send = Array(diff.send.prefix(settings.maxRecordsPerExchange))
            let want = Array(diff.request.prefix(settings.maxRecordsPerExchange))
            guard !send.isEmpty || !want.isEmpty else { return directives }
            directives.append(.send(.recordsAndWant(records: index.records(ids: send), want: want), to: peer))
            return directives
        case .recordsAndWant(let records, let want):
            var directives: [ReplicationDirective] = records.isEmpty ? [] : [.apply(records, from: peer, repair: true)]
            let asked = Array(want.prefix(settings.maxRecordsPerExchange))
            if !asked.isEmpty { directives.append(.send(.records(index.records(ids: asked)), to: peer)) }
            return directives
        case .counters(let origin, let slots):
            // Our own counts relayed back to us carry nothing new.
            guard origin != me, !slots.isEmpty else { return [] }
            return [.mergeCounters(slots, origin: origin, from: peer)]
        case .countersRequest:
            // The escrow rows first, then the counts, ending with a short part (empty when
            // nothing is held): that last part is the answer the asker waits for, and on one
            // stream everything before it has arrived by then.
            return Self.chunks(index.escrowRows(heldFor: peer)).map { .send(.escrowRestore($0), to: peer) }
                + Self.counterReplies(index.counterSlots(heldFor: peer)).map { .send($0, to: peer) }
        case .countersReply(let slots):
            // Restored counts are added to those made since the start: an answer that comes
            // after the recovery ended (a peer asked twice) would count them twice.
            guard recovery != nil else { return [] }
            var directives: [ReplicationDirective] = slots.isEmpty ? [] : [.restoreOwnCounters(slots)]
            if Self.endsCountersReply(slotCount: slots.count), recovery?.answered.contains(peer) == false {
                recovery?.onAnswer(from: peer)
                // Held from it until now; what the restore adds goes out as unsent counts.
                let own = index.ownCounterSlots()
                if !own.isEmpty { directives.append(.send(.counters(origin: me, slots: own), to: peer)) }
            }
            return directives
        case .escrowRows(let rows):
            return rows.isEmpty ? [] : [.mergeEscrow(rows, of: peer)]
        case .escrowWants(let wants):
            return wants.isEmpty ? [] : [.handOver(wants, to: peer)]
        case .escrowRestore(let rows):
            return rows.isEmpty ? [] : [.restoreOwnEscrow(rows)]
        case .auditEntries(let entries):
            return entries.isEmpty ? [] : [.applyAudit(entries, from: peer)]
        case .auditDigest(let theirs, let reply):
            return onAuditDigest(theirs, reply: reply, from: peer, index: index)
        }
    }

    /// Starts an audit anti-entropy round with `peer`: our summary, when we hold any entry.
    /// A node holding none has nothing to offer; it learns what it lacks from the rounds its
    /// peers start (each starts one when its stream to it comes up, and on its timer).
    private func auditRound(with peer: NodeID, index: some ReplicaIndexView) -> [ReplicationDirective] {
        let digest = index.auditDigest().newest(Self.maxAuditDigestHours)
        return digest.buckets.isEmpty ? [] : [.send(.auditDigest(digest, reply: false), to: peer)]
    }

    /// Sends `peer` what this node holds in the hours where the two summaries differ (whole
    /// hours, newest first, up to `maxAuditEntriesPerExchange`; hours still changing here are
    /// left for a later round: `unsettledAuditHours`), then, when `peer` started
    /// the round, this node's summary, so that it sends back what it holds there. Summaries are compared
    /// over the hours both speak for (`AuditDigest.fromHour`).
    private func onAuditDigest(_ theirs: AuditDigest, reply: Bool, from peer: NodeID, index: some ReplicaIndexView) -> [ReplicationDirective] {
        let ours = index.auditDigest().newest(Self.maxAuditDigestHours)
        let differing = ours.differingHours(from: theirs).filter { !unsettledAuditHours.contains($0) }
        guard !differing.isEmpty else { return [] }
        var hours: [Int64] = []
        var entryCount: UInt64 = 0
        for hour in differing.reversed() {
            let held = ours.buckets[hour]?.count ?? 0
            if !hours.isEmpty && entryCount + held > UInt64(settings.maxAuditEntriesPerExchange) { break }
            hours.append(hour)
            entryCount += held
        }
        let answer: DataMessage? = reply ? nil : .auditDigest(ours, reply: true)
        guard entryCount > 0 else { return answer.map { [.send($0, to: peer)] } ?? [] }
        return [.sendAuditEntries(hours: hours.sorted(), limit: settings.maxAuditEntriesPerExchange, to: peer, then: answer)]
    }
}
