/// Caps and deadlines of the client listeners (RESP and HTTP): what one client, or many
/// idle or slow ones, may hold of a node. `cluster.yaml` section `connections:`.
///
/// Timeouts are milliseconds; `0` turns one off.
public struct ConnectionSettings: Sendable, Hashable {
    /// RESP connections that have not authenticated yet, counted apart from
    /// `NodeConfig.maxConnections` so idle sockets cannot take authenticated gateways' slots.
    /// Applies only when gateway tokens are set.
    public var maxUnauthenticated = 1_000
    /// Connections from one source address (IPv6 by /64) per listener.
    public var maxPerSource = 1_000
    /// HTTP connections.
    public var httpMaxConnections = 10_000
    /// gRPC (Envoy) connections. Envoy keeps a few long-lived HTTP/2 connections per
    /// worker thread, each carrying many calls at once.
    public var grpcMaxConnections = 10_000
    /// A gRPC connection with no call for this long is closed (Envoy reconnects on its own).
    public var grpcIdleTimeoutMs: Int64 = 300_000
    /// A RESP connection that sends nothing this long is closed. Five minutes: long enough
    /// for a gateway's pooled connection between bursts (clients reconnect transparently),
    /// short enough that abandoned sockets do not pile up; Redis' `timeout`, which many
    /// deployments set to 300.
    public var respIdleTimeoutMs: Int64 = 300_000
    /// An HTTP connection with no request in flight is closed after this long, nginx's
    /// `keepalive_timeout` order of magnitude.
    public var httpIdleTimeoutMs: Int64 = 60_000
    /// With gateway tokens set, a RESP connection that has not authenticated this long after
    /// it opened is closed.
    public var authTimeoutMs: Int64 = 10_000
    /// A command (RESP) or request (HTTP) must arrive whole, and an HTTP request be
    /// answered, within this long of its first byte.
    public var frameTimeoutMs: Int64 = 10_000
    /// Above this many bytes of unsent replies a connection stops being read.
    public var outputHighWaterBytes = 64 * 1024
    /// Above this many bytes of unsent replies a connection is closed (Redis'
    /// `client-output-buffer-limit` hard limit). Reading stops at the high-water mark, so
    /// this bounds what one read's replies can add beyond it.
    public var outputLimitBytes = 4 * 1024 * 1024
    /// A connection whose replies have not drained below the high-water mark for this long
    /// (its client does not read) is closed (the soft limit's seconds).
    public var outputStallTimeoutMs: Int64 = 30_000
    /// Wrong tokens one RESP connection may send before it is closed; the rest of a
    /// pipeline of guesses is not evaluated.
    public var maxAuthFailures = 3
    /// Event loop threads serving the RESP and HTTP listeners; `nil`: one per core. Fewer
    /// leave cores to what shares the machine (nodes co-located on one host, a sidecar).
    public var eventLoopThreads: Int?

    public init() {}

    /// Checks what the types cannot.
    func validate() throws(ConfigError) {
        var counts: [(String, Int)] = [
            ("connections.max_unauthenticated", maxUnauthenticated), ("connections.max_per_source", maxPerSource),
            ("connections.http_max", httpMaxConnections), ("connections.max_auth_failures", maxAuthFailures),
            ("connections.grpc_max", grpcMaxConnections),
        ]
        if let eventLoopThreads { counts.append(("connections.event_loop_threads", eventLoopThreads)) }
        for (field, value) in counts where value <= 0 {
            throw ConfigError(field: field, problem: "must be positive", fix: "give a positive number or leave it out for the default")
        }
        let timeouts: [(String, Int64)] = [
            ("connections.resp_idle_timeout_ms", respIdleTimeoutMs), ("connections.http_idle_timeout_ms", httpIdleTimeoutMs),
            ("connections.auth_timeout_ms", authTimeoutMs), ("connections.frame_timeout_ms", frameTimeoutMs),
            ("connections.output_stall_timeout_ms", outputStallTimeoutMs), ("connections.grpc_idle_timeout_ms", grpcIdleTimeoutMs),
        ]
        for (field, value) in timeouts where value < 0 {
            throw ConfigError(field: field, problem: "must not be negative", fix: "give milliseconds, or 0 to turn it off")
        }
        guard outputHighWaterBytes >= 1024 else {
            throw ConfigError(field: "connections.output_high_water_bytes", problem: "must be at least 1024", fix: "e.g. 65536")
        }
        guard outputLimitBytes >= outputHighWaterBytes else {
            throw ConfigError(
                field: "connections.output_limit_bytes", problem: "is below output_high_water_bytes (\(outputHighWaterBytes))",
                fix: "make it at least the high-water mark, e.g. 4194304")
        }
    }
}

/// Why the node closed (or refused) a client connection: the `reason` label of
/// `gatehouse_connections_closed_total`.
public enum ConnectionCloseReason: String, CaseIterable, Sendable {
    /// Nothing received for the idle timeout.
    case idle
    /// No successful AUTH within the authentication deadline.
    case authTimeout = "auth_timeout"
    /// A command or request not whole (or not answered) within the frame deadline.
    case frameTimeout = "frame_timeout"
    /// Unsent replies above the output limit.
    case outputLimit = "output_limit"
    /// Unsent replies above the high-water mark for the stall timeout.
    case outputStalled = "output_stalled"
    /// Too many wrong tokens on one connection.
    case authFailures = "auth_failures"
    /// The listener's connection cap.
    case listenerLimit = "listener_limit"
    /// The cap on connections that have not authenticated yet.
    case unauthenticatedLimit = "unauthenticated_limit"
    /// The cap on connections from one source address.
    case sourceLimit = "source_limit"
    /// An HTTP request larger than headers and body may be.
    case requestTooLarge = "request_too_large"
    /// A TLS handshake not complete within the frame deadline of the connection's opening.
    case tlsHandshakeTimeout = "tls_handshake_timeout"
    /// A TLS handshake that failed: not TLS, no acceptable protocol version or cipher, or
    /// (with mTLS) no client certificate the CA signed.
    case tlsHandshakeFailed = "tls_handshake_failed"
}

/// The listener a connection belongs to: the `listener` label.
public enum ClientListener: String, CaseIterable, Sendable {
    case resp, http, grpc
}
