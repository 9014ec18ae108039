import GatehouseMembership
import Prometheus

/// Metrics of the gossip layer. Label values are fixed words; nothing from a packet.
public final class ClusterMetrics: Sendable {
    public enum DropReason: String, CaseIterable, Sendable {
        case oversized, truncated, notAuthentic = "not_authentic", unknownVersion = "unknown_version", malformed
    }

    private let membersByState: [MemberStatus: Gauge]
    private let dropped: [DropReason: Counter]
    public let probes: Counter
    public let indirectProbes: Counter
    public let suspicions: Counter
    public let refutations: Counter
    public let deaths: Counter
    public let bytesIn: Counter
    public let bytesOut: Counter
    public let packetsIn: Counter
    public let packetsOut: Counter
    public let pushPulls: Counter
    public let pushPullFailures: Counter

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "gossip", metricName: name, unitName: "total", helpText: help), labels: labels)
        }
        membersByState = Dictionary(uniqueKeysWithValues: MemberStatus.allCases.map { status in
            (status, registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "gatehouse", metricName: "members", unitName: "", helpText: "Cluster members by state, as this node sees them"),
                labels: [("state", status.description)]))
        })
        dropped = Dictionary(uniqueKeysWithValues: DropReason.allCases.map {
            ($0, counter("dropped_packets", "Gossip packets and frames dropped, by reason", [("reason", $0.rawValue)]))
        })
        probes = counter("probes", "Direct probes sent")
        indirectProbes = counter("indirect_probes", "Indirect probe requests sent")
        suspicions = counter("suspicions", "Suspicions this node started or joined")
        refutations = counter("refutations", "Times this node refuted a suspicion about itself")
        deaths = counter("deaths_declared", "Members this node declared dead")
        bytesIn = counter("bytes", "Gossip bytes received and sent", [("direction", "in")])
        bytesOut = counter("bytes", "Gossip bytes received and sent", [("direction", "out")])
        packetsIn = counter("packets", "Gossip datagrams received and sent", [("direction", "in")])
        packetsOut = counter("packets", "Gossip datagrams received and sent", [("direction", "out")])
        pushPulls = counter("push_pulls", "Push-pull state exchanges completed (join and anti-entropy)")
        pushPullFailures = counter("push_pull_failures", "Push-pull exchanges that failed")
    }

    public func countDrop(_ reason: DropReason) {
        dropped[reason]?.increment()
    }

    func setMembers(_ counts: [MemberStatus: Int]) {
        for (status, gauge) in membersByState { gauge.set(to: Double(counts[status] ?? 0)) }
    }

    /// Adds what the state machine counted since `previous`.
    func record(_ stats: MembershipStats, since previous: MembershipStats) {
        probes.increment(by: Int64(stats.probes - previous.probes))
        indirectProbes.increment(by: Int64(stats.indirectProbes - previous.indirectProbes))
        suspicions.increment(by: Int64(stats.suspicionsStarted - previous.suspicionsStarted))
        refutations.increment(by: Int64(stats.refutations - previous.refutations))
        deaths.increment(by: Int64(stats.deathsDeclared - previous.deathsDeclared))
    }
}
