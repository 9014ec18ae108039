import GatehouseCore
import Prometheus

/// Every metric a node exposes at `/metrics`. One registry per node, so several nodes can
/// run in one process (tests, simulations) without sharing counters.
///
/// Label values are fixed words chosen here; nothing from a request (and so no secret)
/// ever becomes a label.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Why a RESP connection or command was refused.
    public enum RESPErrorKind: String, CaseIterable, Sendable {
        case malformed, tooLarge = "too_large", wrongArguments = "wrong_arguments", unknownCommand = "unknown_command"
        case noAuth = "noauth", wrongPassword = "wrong_password", connectionLimit = "connection_limit"
        case truncated, noProto = "noproto"
    }

    /// Why an HTTP request was refused.
    public enum HTTPErrorKind: String, CaseIterable, Sendable {
        case badJSON = "bad_json", unknownField = "unknown_field", tooLarge = "too_large"
        case unauthorized, forbidden, sourceThrottled = "source_throttled", notFound = "not_found", invalidField = "invalid_field", revoked, storage
        case badRequest = "bad_request", methodNotAllowed = "method_not_allowed"
    }

    /// The Envoy gRPC methods, the `method` label of `gatehouse_grpc_requests_total`.
    public enum GRPCMethod: String, CaseIterable, Sendable {
        case shouldRateLimit = "should_rate_limit", check
    }

    /// How an Envoy gRPC call ended, the `result` label of `gatehouse_grpc_requests_total`.
    public enum GRPCResult: String, CaseIterable, Sendable {
        case ok, overLimit = "over_limit", denied, invalid, unauthenticated
    }

    private let verifyByCode: [Counter]
    /// Indexed by `GRPCMethod` then `GRPCResult`, in `allCases` order.
    private let grpcRequests: [[Counter]]
    public let grpcConnectionsOpen: Gauge
    private let respErrors: [RESPErrorKind: Counter]
    private let httpErrors: [HTTPErrorKind: Counter]
    /// Indexed by `ClientListener` then `ConnectionCloseReason`, in `allCases` order.
    private let connectionsClosed: [[Counter]]
    public let verifyDuration: DurationHistogram
    public let throttleAllowed: Counter
    public let throttleRefused: Counter
    public let respConnectionsOpen: Gauge
    public let respConnectionsTotal: Counter
    public let respCommands: Counter
    public let httpConnectionsOpen: Gauge
    public let keys: Gauge
    public let throttleBuckets: Gauge
    public let throttleEvictions: Gauge
    public let failedAttemptSources: Gauge
    public let failedAttemptEvictions: Gauge
    public let adminWrites: Counter
    public let adminCommits: Gauge
    public let adminCommittedWrites: Gauge
    public let usageFlushFailures: Counter
    /// Security events emitted, by type (every type is exported from the start, at 0).
    private let securityEvents: [SecurityEventType: Counter]
    public let cluster: ClusterMetrics
    public let replication: ReplicationMetrics
    public let dataPlane: DataPlaneMetrics
    public let tls: TLSMetrics

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "gatehouse", metricName: name, unitName: "total", helpText: help), labels: labels)
        }
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "gatehouse", metricName: name, unitName: "", helpText: help))
        }
        verifyByCode = VerifyCode.allCases.map { counter("verify", "Verify decisions by code", [("code", $0.rawValue)]) }
        respErrors = Dictionary(uniqueKeysWithValues: RESPErrorKind.allCases.map {
            ($0, counter("resp_errors", "RESP commands or connections refused, by reason", [("reason", $0.rawValue)]))
        })
        httpErrors = Dictionary(uniqueKeysWithValues: HTTPErrorKind.allCases.map {
            ($0, counter("http_errors", "HTTP requests refused, by reason", [("reason", $0.rawValue)]))
        })
        connectionsClosed = ClientListener.allCases.map { listener in
            ConnectionCloseReason.allCases.map { reason in
                counter(
                    "connections_closed", "Client connections closed or refused by the node, by listener and reason",
                    [("listener", listener.rawValue), ("reason", reason.rawValue)])
            }
        }
        grpcRequests = GRPCMethod.allCases.map { method in
            GRPCResult.allCases.map { result in
                counter("grpc_requests", "Envoy gRPC calls (rate-limit service, ext_authz) by method and result", [("method", method.rawValue), ("result", result.rawValue)])
            }
        }
        grpcConnectionsOpen = gauge("grpc_connections_open", "gRPC (Envoy) connections open now")
        verifyDuration = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "gatehouse", metricName: "verify_duration", unitName: "seconds", helpText: "Time to decide a verify, in process"),
            buckets: [.nanoseconds(500), .microseconds(1), .microseconds(2), .microseconds(5), .microseconds(10), .microseconds(50), .microseconds(100), .milliseconds(1)]
        )
        throttleAllowed = counter("throttle", "THROTTLE decisions", [("allowed", "true")])
        throttleRefused = counter("throttle", "THROTTLE decisions", [("allowed", "false")])
        respConnectionsOpen = gauge("resp_connections_open", "RESP connections open now")
        respConnectionsTotal = counter("resp_connections", "RESP connections accepted")
        respCommands = counter("resp_commands", "RESP commands received")
        httpConnectionsOpen = gauge("http_connections_open", "HTTP connections open now")
        keys = gauge("keys", "Key records held by this node")
        throttleBuckets = gauge("throttle_buckets", "THROTTLE buckets tracked")
        throttleEvictions = gauge("throttle_evictions", "Live THROTTLE buckets forgotten, least recently used first, to count new ones in a full table")
        failedAttemptSources = gauge("failed_attempt_sources", "Sources the failed-attempt throttle tracks")
        failedAttemptEvictions = gauge("failed_attempt_evictions", "Sources the failed-attempt throttle forgot to make room for others")
        adminWrites = counter("admin_writes", "Key writes through the admin API")
        adminCommits = gauge("admin_commits", "Durable commits of admin writes since start (writes arriving during a commit share the next)")
        adminCommittedWrites = gauge("admin_committed_writes", "Admin writes those commits held")
        usageFlushFailures = counter("usage_flush_failures", "Failed writes of coalesced usage to disk")
        securityEvents = Dictionary(uniqueKeysWithValues: SecurityEventType.allCases.map {
            ($0, counter("security_events", "Security events emitted, by type (see GET /v1/events)", [("type", $0.rawValue)]))
        })
        cluster = ClusterMetrics(registry: registry)
        replication = ReplicationMetrics(registry: registry)
        dataPlane = DataPlaneMetrics(registry: registry)
        tls = TLSMetrics(registry: registry)
    }

    @inline(__always)
    public func countVerify(_ code: VerifyCode) {
        verifyByCode[code.ordinal].increment()
    }

    /// Adds `count` decisions of the code with this `VerifyCode.ordinal`.
    public func countVerify(ordinal: Int, by count: Int64) {
        verifyByCode[ordinal].increment(by: count)
    }

    public func countRESPError(_ kind: RESPErrorKind) {
        respErrors[kind]?.increment()
    }

    public func countClose(_ listener: ClientListener, _ reason: ConnectionCloseReason) {
        let listenerIndex = ClientListener.allCases.firstIndex(of: listener) ?? 0
        let reasonIndex = ConnectionCloseReason.allCases.firstIndex(of: reason) ?? 0
        connectionsClosed[listenerIndex][reasonIndex].increment()
    }

    public func countGRPC(_ method: GRPCMethod, _ result: GRPCResult) {
        let methodIndex = GRPCMethod.allCases.firstIndex(of: method) ?? 0
        let resultIndex = GRPCResult.allCases.firstIndex(of: result) ?? 0
        grpcRequests[methodIndex][resultIndex].increment()
    }

    public func countSecurityEvent(_ type: SecurityEventType) {
        securityEvents[type]?.increment()
    }

    public func countHTTPError(_ kind: HTTPErrorKind) {
        httpErrors[kind]?.increment()
    }
}
