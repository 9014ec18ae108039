import GatehouseCore
import GatehouseMembership
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The thin runner around `ReplicationMachine`: feeds it local writes, messages from the
/// data plane, membership changes and its two timers (counter sync, anti-entropy), and
/// carries out its directives — sends on the data plane, merges into the key service. All on
/// the data plane's loop, so the machine needs no lock and inbound work paces its stream.
final class ClusterReplication: Service, Sendable {
    let keys: KeyService
    let gossip: GossipService
    let plane: DataPlane
    let metrics: ReplicationMetrics
    let logger: Logger
    let counterIntervalMs: Int64
    let antiEntropyIntervalMs: Int64
    let rule: CounterSendRule
    private let machine: NIOLoopBoundBox<ReplicationMachine>
    private let view: KeyIndexView
    /// Where peers' counter slots are merged: a thread of its own at the default priority.
    /// The data plane's loop runs above the request loops so a replicated write is applied
    /// within a scheduler slice under any load; merging thousands of slots a second there
    /// would take that priority away from the request loops (their tail latency showed it).
    /// Slots merge by maximum, so merging them apart from the records, in any order, is safe.
    private let mergeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// Where the audit trail meets the disk for replication: peers' entries stored, entries
    /// read for anti-entropy. A thread of its own, so neither the streams nor the counters
    /// wait on a disk sync.
    private let auditGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// Peers' audit entries waiting for the audit thread, by peer. A frame carries at most
    /// `ReplicationMachine.auditEntriesPerMessage` (48) entries; storing each frame in its own
    /// transaction synced the disk two thousand times for a 100,000-key import. Frames that
    /// arrive while the thread is busy are stored together, in one transaction per peer.
    private let auditInbox = LockedBox<(entries: [String: [AuditEntry]], drainScheduled: Bool)>(([:], false))

    init(
        keys: KeyService, gossip: GossipService, metrics: ReplicationMetrics, logger: Logger, counterIntervalMs: Int64,
        antiEntropyIntervalMs: Int64, rule: CounterSendRule, settings: ReplicationMachine.Settings
    ) {
        self.keys = keys
        self.gossip = gossip
        plane = gossip.dataPlane
        self.metrics = metrics
        self.logger = logger
        self.counterIntervalMs = counterIntervalMs
        self.antiEntropyIntervalMs = antiEntropyIntervalMs
        self.rule = rule
        view = KeyIndexView(keys: keys)
        var settings = settings
        settings.recoveryTicks(tickMs: counterIntervalMs)
        machine = NIOLoopBoundBox.makeBoxSendingValue(
            ReplicationMachine(me: gossip.nodeID, settings: settings, seed: UInt64.random(in: 0...UInt64.max)), eventLoop: plane.loop)
        // Before any listener serves: what this node spent before a restart is only in its
        // peers' copies now. A node with no seed is the cluster's first and has no peer to ask.
        if !gossip.config.seeds.isEmpty {
            keys.beginOwnStateRecovery(forMs: ReplicationMachine.Settings.recoveryMaxMs)
        }
        keys.onLocalWrites { [weak self] records in
            guard let self else { return }
            metrics.writesSent.increment(by: Int64(records.count))
            plane.loop.execute { self.perform(self.machine.value.onLocalWrite(records)) }
        }
        keys.audit.onLocalEntries { [weak self] entries in
            guard let self else { return }
            plane.loop.execute { self.perform(self.machine.value.onLocalAudit(entries)) }
        }
        // The loop runs tasks in order: one submitted after a write's push has run that push
        // (its frames written and flushed to every open stream) by the time it completes.
        keys.onPushBarrier { [loop = plane.loop] done in
            loop.execute { done() }
        }
        // The verify path ran low on a share or on credits: ask the peers now (coalesced: the
        // doorbell rings once until the wants are taken).
        keys.onEscrowWants { [weak self] in
            guard let self else { return }
            plane.loop.execute {
                let wants = self.keys.takeEscrowWants()
                self.metrics.escrowWantsSent.increment(by: Int64(wants.count))
                self.perform(self.machine.value.onEscrowWants(wants))
            }
        }
        plane.onMessage { [weak self] message, peer in
            guard let self else { return }
            perform(machine.value.onMessage(message, from: peer, index: view))
        }
        plane.onStreamConnected { [weak self] peer in
            guard let self else { return }
            perform(machine.value.onStreamConnected(peer, index: view))
        }
    }

    func run() async throws {
        try? await plane.loop.submit { self.machine.value.onStartRecovery() }.get()
        var sinceAntiEntropyMs: Int64 = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(self.counterIntervalMs)) }
            } catch {
                break
            }
            let live = await gossip.liveMembers()
            keys.setLiveMembers(live.map(\.id.name))
            let changes = keys.takeDueCounterChanges(rule: rule)
            let retransmits = gossip.config.membership.retransmitLimit(members: live.count + 1)
            sinceAntiEntropyMs += counterIntervalMs
            let antiEntropyDue = sinceAntiEntropyMs >= antiEntropyIntervalMs
            if antiEntropyDue { sinceAntiEntropyMs = 0 }
            try? await plane.loop.submit {
                self.plane.setPeers(Dictionary(live.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first }))
                self.machine.value.onMembers(live.map(\.id))
                self.perform(self.machine.value.onCounterTick(ownChanges: changes, retransmitLimit: retransmits))
                self.perform(self.machine.value.onEscrowRows(self.keys.takeChangedCreditRows()))
                if antiEntropyDue { self.perform(self.machine.value.onAntiEntropyTimer(index: self.view)) }
            }.get()
        }
        // A last push of what is still unsent, so a graceful restart forgets no count.
        let changes = keys.takeCounterChanges()
        try? await plane.loop.submit {
            self.perform(self.machine.value.onCounterTick(ownChanges: changes, retransmitLimit: 1))
        }.get()
        try? await mergeGroup.shutdownGracefully()
        try? await auditGroup.shutdownGracefully()
    }

    /// Carries out the machine's directives, on the data plane's loop.
    /// Stores every peer's entries waiting in `auditInbox`, one transaction per peer.
    private func drainAuditInbox() {
        let waiting = auditInbox.withLock { inbox in
            defer { inbox = ([:], false) }
            return inbox.entries
        }
        for (peer, entries) in waiting {
            let outcome = keys.audit.merge(entries, from: peer)
            metrics.auditEntriesApplied.increment(by: Int64(outcome.added))
            for (reason, count) in outcome.rejected { metrics.countAuditRejected(reason, count) }
        }
    }

    private func perform(_ directives: [ReplicationDirective]) {
        plane.loop.preconditionInEventLoop()
        for directive in directives {
            switch directive {
            case .send(let message, let peer):
                plane.send(message, to: peer)
            case .apply(let records, _, let repair):
                metrics.writesReceived.increment(by: Int64(records.count))
                if repair { metrics.recordsRepaired.increment(by: Int64(records.count)) }
                let outcome = keys.applyReplicated(records)
                metrics.writesApplied.increment(by: Int64(outcome.applied))
                for (reason, count) in outcome.rejected { metrics.countRejected(reason, count) }
            case .mergeCounters(let slots, let origin, let peer):
                // Counts are attributed to a member of the cluster: the stream's own member,
                // or (relayed) one the membership knows as live.
                guard origin == peer || machine.value.live.contains(origin) else { continue }
                mergeGroup.next().execute { [keys, metrics, plane] in
                    let merged = keys.mergeCounters(slots, from: origin.name)
                    metrics.countRejected(.invalidCounter, merged.rejected)
                    guard !merged.news.isEmpty else { return }
                    plane.loop.execute { self.machine.value.onCounterNews(merged.news, origin: origin) }
                }
            case .restoreOwnCounters(let slots):
                // On the merge loop (one thread), in order: the recovery's end below must
                // follow its last restore.
                mergeGroup.next().execute { [keys, metrics] in
                    metrics.countRejected(.invalidCounter, keys.restoreOwnCounters(slots))
                }
            case .counterRecoveryFinished(let answered, let unanswered):
                mergeGroup.next().execute { [keys] in keys.endCounterRecovery() }
                let metadata: Logger.Metadata = [
                    "answered": .array(answered.map { .string($0.name) }), "unanswered": .array(unanswered.map { .string($0.name) }),
                ]
                if unanswered.isEmpty {
                    logger.info("own rate-limit counts recovered from the peers' copies", metadata: metadata)
                } else {
                    logger.warning(
                        "own rate-limit counts recovered without the copies of peers that never answered: counts they alone held are lost",
                        metadata: metadata)
                }
            case .antiEntropyAnswered:
                metrics.antiEntropyRounds.increment()
                metrics.markAntiEntropy()
            case .mergeEscrow(let rows, let peer):
                metrics.countRejected(.invalidEscrow, keys.mergeEscrowRows(rows, of: peer.name))
            case .handOver(let wants, let peer):
                let rows = keys.handOver(wants, to: peer.name)
                metrics.escrowHandOvers.increment(by: Int64(rows.count))
                perform(machine.value.onEscrowRows(rows))
            case .restoreOwnEscrow(let rows):
                metrics.countRejected(.invalidEscrow, keys.restoreOwnEscrowRows(rows))
            case .applyAudit(let entries, let peer):
                // Off the stream's loop, and off the counters' thread: storing entries syncs the disk.
                let schedule = auditInbox.withLock { inbox in
                    inbox.entries[peer.name, default: []] += entries
                    defer { inbox.drainScheduled = true }
                    return !inbox.drainScheduled
                }
                if schedule { auditGroup.next().execute { self.drainAuditInbox() } }
            case .sendAuditEntries(let hours, let limit, let peer, let then):
                auditGroup.next().execute { [keys, plane] in
                    let entries = keys.audit.entries(forExchange: hours, limit: limit)
                    plane.loop.execute {
                        for message in ReplicationMachine.auditMessages(entries) { plane.send(message, to: peer) }
                        if let then { plane.send(then, to: peer) }
                    }
                }
            }
        }
    }
}

/// The key service as the replication machine sees it.
struct KeyIndexView: ReplicaIndexView, Sendable {
    let keys: KeyService

    func digest() -> ReplicaDigest { keys.digest() }
    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { keys.entries(inBuckets: buckets) }
    func records(ids: [String]) -> [KeyRecord] { keys.records(ids: ids) }
    func counterSlots(heldFor node: NodeID) -> [CounterSlot] { keys.counterSlots(of: node.name) }
    func ownCounterSlots() -> [CounterSlot] { keys.ownCounterSlots() }
    func escrowRows(heldFor node: NodeID) -> [EscrowRow] { keys.escrowRows(of: node.name) }
    func ownEscrowRows() -> [EscrowRow] { keys.ownEscrowRows() }
    func auditDigest() -> AuditDigest { keys.audit.currentDigest() }
}
