import GatehouseCore
import GatehouseMembership
import GatehouseWire
import Logging
import Prometheus
import ServiceLifecycle

/// Shares this node's rate-limit counts with the cluster: every sync interval the slots this
/// node raised are sent, batched into datagrams, to every live member; slots from peers are
/// merged as a G-counter (max per slot), so loss, duplicates and reordering are harmless.
/// At start it asks a peer for the counts held for it, so a restart forgets nothing.
final class CounterSync: Service, Sendable {
    let keys: KeyService
    let gossip: GossipService
    let nodeID: String
    let intervalMs: Int64
    let maxDatagramBytes: Int
    let bytesSent: Counter
    let logger: Logger

    init(keys: KeyService, gossip: GossipService, nodeID: String, intervalMs: Int64, maxDatagramBytes: Int, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.keys = keys
        self.gossip = gossip
        self.nodeID = nodeID
        self.intervalMs = intervalMs
        self.maxDatagramBytes = maxDatagramBytes - ClusterKeyring.overhead
        bytesSent = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "counters", metricName: "sync_bytes", unitName: "total", helpText: "Counter sync bytes sent (plaintext)"),
            labels: [])
        self.logger = logger
        gossip.onCountersReceived { slots, sender in
            keys.mergeCounters(slots, from: sender)
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
        guard !changes.isEmpty else { return }
        guard !members.isEmpty else { return }
        let datagrams = CounterSyncCodec.encode(changes, sender: nodeID, maxBytes: maxDatagramBytes)
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
