import GatehouseCore
import GatehouseMembership
import GatehouseWire
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// Shares this node's rate-limit counts with the cluster: every sync interval the slots this
/// node raised are sent, batched into datagrams, to every live member; slots from peers are
/// merged as a G-counter (max per slot), so loss, duplicates and reordering are harmless.
/// At start it asks a peer for the counts held for it, so a restart forgets nothing.
///
/// In a large cluster sending to everyone would cost O(N²) datagrams per interval; beyond
/// `directLimit` live members each node sends to `fanout` random members instead, and passes
/// on (a limited number of times) the slots it learned from others — an epidemic, safe
/// because merging is idempotent.
final class CounterSync: Service, Sendable {
    let keys: KeyService
    let gossip: GossipService
    let nodeID: String
    let intervalMs: Int64
    let maxDatagramBytes: Int
    let bytesSent: Counter
    let logger: Logger
    let directLimit: Int
    let fanout: Int
    let retransmitLimit: @Sendable (Int) -> Int
    /// Slots learned from others, waiting to be passed on in fan-out mode.
    private let relays = LockedBox<[Relay]>([])
    static let maxRelays = 4_096

    struct Relay: Sendable {
        var origin: String
        var slots: [CounterSlot]
        var remaining: Int
    }

    init(
        keys: KeyService, gossip: GossipService, nodeID: String, intervalMs: Int64, maxDatagramBytes: Int,
        membership: MembershipSettings, registry: PrometheusCollectorRegistry, logger: Logger, directLimit: Int = 16
    ) {
        self.directLimit = directLimit
        fanout = membership.gossipFanout
        retransmitLimit = { membership.retransmitLimit(members: $0) }
        self.keys = keys
        self.gossip = gossip
        self.nodeID = nodeID
        self.intervalMs = intervalMs
        self.maxDatagramBytes = maxDatagramBytes - ClusterKeyring.overhead
        bytesSent = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "counters", metricName: "sync_bytes", unitName: "total", helpText: "Counter sync bytes sent (plaintext)"),
            labels: [])
        self.logger = logger
        let relays = relays
        gossip.onCountersReceived { slots, origin in
            // Our own counts relayed back to us carry nothing new.
            guard origin != nodeID else { return }
            let news = keys.mergeCounters(slots, from: origin)
            guard !news.isEmpty else { return }
            relays.withLock { queue in
                queue.append(Relay(origin: origin, slots: news, remaining: -1))
                if queue.count > Self.maxRelays { queue.removeFirst(queue.count - Self.maxRelays) }
            }
        }
    }

    func run() async throws {
        let recovery = Task { await recoverOwnCounters() }
        defer { recovery.cancel() }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(self.intervalMs)) }
            } catch {
                break
            }
            await syncOnce()
        }
        await syncOnce()
    }

    func syncOnce() async {
        let members = await gossip.liveMembers().map(\.address)
        keys.setClusterSize(members.count + 1)
        let changes = keys.takeCounterChanges()
        guard !members.isEmpty else { return }
        if members.count <= directLimit {
            relays.withLock { $0.removeAll() }
            guard !changes.isEmpty else { return }
            send(CounterSyncCodec.encode(changes, sender: nodeID, maxBytes: maxDatagramBytes), to: members)
            return
        }
        // Fan-out: our changes and what we learned, to a few random members, each batch on
        // several rounds (like the gossip piggyback) so the epidemic does not die out.
        let limit = retransmitLimit(members.count + 1)
        let passOn = relays.withLock { queue -> [Relay] in
            if !changes.isEmpty { queue.append(Relay(origin: nodeID, slots: changes, remaining: limit)) }
            for index in queue.indices where queue[index].remaining < 0 { queue[index].remaining = limit }
            let due = queue
            for index in queue.indices { queue[index].remaining -= 1 }
            queue.removeAll { $0.remaining <= 0 }
            return due
        }
        var datagrams: [ByteBuffer] = []
        for relay in passOn {
            datagrams += CounterSyncCodec.encode(relay.slots, sender: relay.origin, maxBytes: maxDatagramBytes)
        }
        guard !datagrams.isEmpty else { return }
        send(datagrams, to: Array(members.shuffled().prefix(fanout)))
    }

    private func send(_ datagrams: [ByteBuffer], to members: [MemberAddress]) {
        bytesSent.increment(by: Int64(datagrams.reduce(0) { $0 + $1.readableBytes } * members.count))
        gossip.send(datagrams: datagrams, to: members)
    }

    /// Asks live peers, once some are known, for the slots they hold for this node.
    private func recoverOwnCounters() async {
        for _ in 0..<50 where !Task.isCancelled {
            let peers = await gossip.liveMembers()
            if !peers.isEmpty {
                for peer in peers {
                    if case .countersResponse(let slots)? = try? await gossip.exchangeSync(.countersRequest(node: nodeID), with: peer.address) {
                        keys.restoreOwnCounters(slots)
                    }
                }
                return
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
