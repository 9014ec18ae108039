import GatehouseCore
import GatehouseMembership
import GatehouseWire
import Logging
import ServiceLifecycle

/// Keeps this node's key records in step with the cluster: every local write is pushed to
/// all live members at once (a datagram each, also queued on the gossip piggyback; over TCP
/// when it does not fit), and a periodic anti-entropy round with a random member compares
/// digests and exchanges only the records that differ, so anything lost converges.
final class KeyReplicator: Service, Sendable {
    let keys: KeyService
    let gossip: GossipService
    let metrics: ReplicationMetrics
    let logger: Logger
    let antiEntropyIntervalMs: Int64
    /// Most records moved in one anti-entropy exchange; the rest follow next round.
    static let maxRecordsPerExchange = 2_000

    init(keys: KeyService, gossip: GossipService, metrics: ReplicationMetrics, logger: Logger, antiEntropyIntervalMs: Int64) {
        self.keys = keys
        self.gossip = gossip
        self.metrics = metrics
        self.logger = logger
        self.antiEntropyIntervalMs = antiEntropyIntervalMs
        keys.onLocalWrite { [weak self] record in
            guard let self else { return }
            Task { await self.push(record) }
        }
        gossip.onPayloadReceived { [weak self] payload, origin in
            self?.receive(payload, from: origin)
        }
        gossip.handleSync { [weak self] request in
            await self?.answer(request)
        }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(self.antiEntropyIntervalMs)) }
            } catch {
                break
            }
            await antiEntropyRound()
        }
    }

    // MARK: Pushing writes

    func push(_ record: KeyRecord) async {
        metrics.writesSent.increment()
        let payload = ReplicationMessage.recordPayload(record)
        if await gossip.broadcastNow(payload) { return }
        // Too large for a datagram: one TCP exchange per live member.
        for member in await gossip.liveMembers() {
            do {
                _ = try await gossip.exchangeSync(.recordsRequest(records: [record], want: []), with: member.address)
            } catch {
                logger.debug("record push failed; anti-entropy will repair it", metadata: ["member": "\(member.id)"])
            }
        }
    }

    func receive(_ payload: [UInt8], from origin: NodeID) {
        guard let record = ReplicationMessage.decodeRecordPayload(payload) else { return }
        metrics.writesReceived.increment()
        apply([record])
    }

    private func apply(_ records: [KeyRecord]) {
        for record in records {
            do {
                if try keys.applyReplicated(record) { metrics.writesApplied.increment() }
            } catch {
                logger.error("storing a replicated record failed", metadata: ["key_id": "\(record.id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Anti-entropy

    /// One round with a random live member: digests, then only the differing records.
    func antiEntropyRound() async {
        guard let peer = await gossip.liveMembers().randomElement() else { return }
        do {
            let answer = try await gossip.exchangeSync(.digestRequest(keys.digest()), with: peer.address)
            metrics.antiEntropyRounds.increment()
            metrics.markAntiEntropy()
            guard case .digestResponse(let buckets, let theirs) = answer, !buckets.isEmpty else { return }
            let ours = keys.entries(inBuckets: Set(buckets))
            let diff = ReplicaDiff.compare(ours: ours, theirs: theirs)
            let send = Array(diff.send.prefix(Self.maxRecordsPerExchange))
            let want = Array(diff.request.prefix(Self.maxRecordsPerExchange))
            guard !send.isEmpty || !want.isEmpty else { return }
            let reply = try await gossip.exchangeSync(.recordsRequest(records: keys.records(ids: send), want: want), with: peer.address)
            if case .recordsResponse(let records) = reply {
                apply(records)
                metrics.recordsRepaired.increment(by: Int64(records.count + send.count))
            }
        } catch {
            logger.debug("anti-entropy round failed", metadata: ["member": "\(peer.id)", "error": "\(error)"])
        }
    }

    /// The answering side of both anti-entropy steps.
    func answer(_ request: ReplicationMessage) async -> ReplicationMessage? {
        switch request {
        case .digestRequest(let theirs):
            let buckets = keys.digest().differingBuckets(from: theirs)
            return .digestResponse(buckets: buckets, entries: keys.entries(inBuckets: Set(buckets)))
        case .recordsRequest(let records, let want):
            apply(records)
            return .recordsResponse(records: keys.records(ids: Array(want.prefix(Self.maxRecordsPerExchange))))
        case .countersRequest(let node):
            return .countersResponse(slots: keys.counterSlots(of: node))
        case .digestResponse, .recordsResponse, .countersResponse:
            return nil
        }
    }
}
