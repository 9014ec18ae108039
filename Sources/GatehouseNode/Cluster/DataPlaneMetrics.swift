import Prometheus

/// Metrics of the data plane (per-peer sealed TCP streams). Label values are fixed words.
public final class DataPlaneMetrics: Sendable {
    /// Why an inbound stream was closed or refused before it was useful.
    public enum Refusal: String, CaseIterable, Sendable {
        case connectionCap = "connection_cap"
        case unauthenticatedCap = "unauthenticated_cap"
        case handshakeTimeout = "handshake_timeout"
        case handshakeTooLarge = "handshake_too_large"
        case notAuthentic = "not_authentic"
        case notHello = "not_hello"
        case frameTooLarge = "frame_too_large"
        case malformed
    }

    private let refusals: [Refusal: Counter]
    public let framesIn: Counter
    public let framesOut: Counter
    public let bytesIn: Counter
    public let bytesOut: Counter
    public let counterBytesOut: Counter
    public let outboxDropped: Counter
    public let connects: Counter
    public let connectFailures: Counter
    public let streamsOpen: Gauge
    public let streamsInbound: Gauge
    public let udpReceiveBuffer: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "data", metricName: name, unitName: "total", helpText: help),
                labels: labels)
        }
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "gatehouse", subsystem: "data", metricName: name, unitName: "", helpText: help))
        }
        refusals = Dictionary(uniqueKeysWithValues: Refusal.allCases.map {
            ($0, counter("streams_refused", "Inbound data streams closed before or instead of being used, by reason", [("reason", $0.rawValue)]))
        })
        framesIn = counter("frames", "Data-plane frames received and sent", [("direction", "in")])
        framesOut = counter("frames", "Data-plane frames received and sent", [("direction", "out")])
        bytesIn = counter("bytes", "Data-plane bytes received and sent (sealed, with framing)", [("direction", "in")])
        bytesOut = counter("bytes", "Data-plane bytes received and sent (sealed, with framing)", [("direction", "out")])
        counterBytesOut = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "gatehouse", subsystem: "counters", metricName: "sync_bytes", unitName: "total",
                helpText: "Counter sync bytes sent (plaintext frames, summed over peers)"),
            labels: [])
        outboxDropped = counter("outbox_dropped", "Pending records or counter slots dropped because a peer's outbox was full")
        connects = counter("connects", "Outbound data streams established")
        connectFailures = counter("connect_failures", "Outbound data stream attempts that failed")
        streamsOpen = gauge("streams_outbound", "Outbound data streams open")
        streamsInbound = gauge("streams_inbound", "Inbound data streams open (authenticated or not)")
        udpReceiveBuffer = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "gatehouse", subsystem: "gossip", metricName: "udp_receive_buffer", unitName: "bytes",
            helpText: "SO_RCVBUF the kernel granted the failure-detection socket"))
    }

    func countRefusal(_ reason: Refusal) {
        refusals[reason]?.increment()
    }
}
