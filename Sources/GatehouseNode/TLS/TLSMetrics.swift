import Prometheus

/// Metrics of the listeners' TLS certificate: reloads and when the served one expires.
public final class TLSMetrics: Sendable {
    /// `gatehouse_tls_reloads_total{result="ok"}`: SIGHUP reloads that took effect.
    public let reloadsSucceeded: Counter
    /// `gatehouse_tls_reloads_total{result="failed"}`: reloads refused (the old certificate stays).
    public let reloadsFailed: Counter
    /// Unix time after which the served certificate is no longer valid, for expiry alerts.
    public let certificateNotAfter: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func reloads(_ result: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "gatehouse", subsystem: "tls", metricName: "reloads", unitName: "total",
                    helpText: "TLS certificate reloads (SIGHUP), by result; a failed one keeps the previous certificate"),
                labels: [("result", result)])
        }
        reloadsSucceeded = reloads("ok")
        reloadsFailed = reloads("failed")
        certificateNotAfter = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "gatehouse", subsystem: "tls", metricName: "certificate_not_after", unitName: "seconds",
            helpText: "Unix time after which the served TLS certificate expires"))
    }
}
