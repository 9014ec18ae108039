import GatehouseCore
import Prometheus

/// Metrics of key replication.
public final class ReplicationMetrics: Sendable {
    public let writesSent: Counter
    public let writesReceived: Counter
    public let writesApplied: Counter
    public let antiEntropyRounds: Counter
    public let recordsRepaired: Counter
    public let persistFailures: Counter
    /// Requests for more of a limit's share or of credits sent to the peers (each to all).
    public let escrowWantsSent: Counter
    /// Ledgers of which this node handed part to a peer that asked.
    public let escrowHandOvers: Counter
    private let rejected: [ReplicaCheck.Rejection: Counter]
    /// Audit entries from peers that were new here and kept.
    public let auditEntriesApplied: Counter
    private let auditRejected: [AuditRules.Rejection: Counter]
    private let lastAntiEntropy: Gauge
    private let lastAntiEntropyMs = LockedBox<Int64?>(nil)

    /// Unix ms of the last completed anti-entropy exchange, if any.
    public var lastAntiEntropyAt: Int64? { lastAntiEntropyMs.withLock { $0 } }

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "replication", metricName: name, unitName: "total", helpText: help), labels: [])
        }
        writesSent = counter("writes_sent", "Local key writes pushed to the cluster")
        writesReceived = counter("writes_received", "Replicated key writes received")
        writesApplied = counter("writes_applied", "Replicated key writes that were newer and applied")
        antiEntropyRounds = counter("anti_entropy_rounds", "Anti-entropy digest exchanges completed")
        recordsRepaired = counter("records_repaired", "Records moved by anti-entropy (sent and received)")
        persistFailures = counter("persist_failures", "Batches of replicated records that could not be written to disk (retried)")
        escrowWantsSent = counter("escrow_wants_sent", "Requests for more of a limit share or of credits, sent to every live peer")
        escrowHandOvers = counter("escrow_hand_overs", "Limit shares or credits handed to a peer that asked")
        rejected = Dictionary(uniqueKeysWithValues: ReplicaCheck.Rejection.allCases.map { reason in
            (reason, registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "gatehouse", subsystem: "replication", metricName: "rejected", unitName: "total",
                    helpText: "Records and counter slots from peers refused by the replica checks, by reason"),
                labels: [("reason", reason.rawValue)]))
        })
        auditEntriesApplied = counter("audit_entries_applied", "Audit entries from peers that were new here and kept")
        auditRejected = Dictionary(uniqueKeysWithValues: AuditRules.Rejection.allCases.map { reason in
            (reason, registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "gatehouse", subsystem: "replication", metricName: "audit_rejected", unitName: "total",
                    helpText: "Audit entries from peers refused (malformed, past the retention, or dated in the future), by reason"),
                labels: [("reason", reason.rawValue)]))
        })
        lastAntiEntropy = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "gatehouse", subsystem: "replication", metricName: "last_anti_entropy", unitName: "seconds",
            helpText: "Unix time of the last completed anti-entropy exchange"))
    }

    func countRejected(_ reason: ReplicaCheck.Rejection, _ count: Int) {
        guard count > 0 else { return }
        rejected[reason]?.increment(by: Int64(count))
    }

    func countAuditRejected(_ reason: AuditRules.Rejection, _ count: Int) {
        guard count > 0 else { return }
        auditRejected[reason]?.increment(by: Int64(count))
    }

    func markAntiEntropy() {
        let ms = WallClock.nowMs()
        lastAntiEntropy.set(to: Double(ms) / 1000)
        lastAntiEntropyMs.withLock { $0 = ms }
    }
}
