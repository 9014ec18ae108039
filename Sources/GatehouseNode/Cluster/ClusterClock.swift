import Atomics
import GatehouseCore
import Logging
import Prometheus

/// The time a clustered node answers on: its wall clock, plus the correction `ClockCorrection`
/// decides once the membership's probes (`ClockOffsets`) show the clock off by more than
/// `timing.max_clock_skew_ms` from the majority. Window indices, expiry and new versions all
/// read it; failure detection keeps the raw wall clock (it measures the offset).
///
/// Read on every verify: the correction is one relaxed atomic load.
public final class ClusterClock: Sendable {
    private let wall: @Sendable () -> Int64
    private let correction = ManagedAtomic<Int64>(0)
    private let decision: LockedBox<ClockCorrection>
    private let measuredGauge: Gauge
    private let correctionGauge: Gauge
    private let logger: Logger

    init(wall: @escaping @Sendable () -> Int64, boundMs: Int64, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.wall = wall
        decision = LockedBox(ClockCorrection(boundMs: boundMs))
        measuredGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "gatehouse", subsystem: "clock", metricName: "cluster_offset", unitName: "milliseconds",
            helpText: "The cluster's wall clock minus this node's, measured on membership probes (median with this node)"))
        correctionGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "gatehouse", subsystem: "clock", metricName: "correction", unitName: "milliseconds",
            helpText: "Added to this node's wall clock because it is off the cluster's by more than max_clock_skew_ms (0: trusted)"))
        self.logger = logger
    }

    /// The time this node answers on, in Unix milliseconds.
    @Sendable
    public func nowMs() -> Int64 {
        wall() &+ correction.load(ordering: .relaxed)
    }

    public var correctionMs: Int64 { correction.load(ordering: .relaxed) }

    /// A new measurement of the cluster's time minus this node's raw clock (`nil`: none yet).
    func observe(clusterOffsetMs offset: Int64?, members: Int) {
        guard let offset else { return }
        measuredGauge.set(to: Double(offset))
        let (changed, now) = decision.withLock { decision in (decision.observe(clusterOffsetMs: offset), decision) }
        correction.store(now.correctionMs, ordering: .relaxed)
        correctionGauge.set(to: Double(now.correctionMs))
        guard changed else { return }
        if now.isCorrecting {
            logger.error(
                "this node's clock is off the cluster's by more than max_clock_skew_ms: answering on the cluster's time; fix this machine's time sync (NTP)",
                metadata: [
                    "cluster_offset_ms": "\(offset)", "bound_ms": "\(now.boundMs)", "members_measured": "\(members)",
                    "this_clock": offset < 0 ? "ahead" : "behind",
                ])
        } else {
            logger.warning("this node's clock agrees with the cluster's again: answering on its own clock", metadata: [
                "cluster_offset_ms": "\(offset)", "bound_ms": "\(now.boundMs)",
            ])
        }
    }
}
