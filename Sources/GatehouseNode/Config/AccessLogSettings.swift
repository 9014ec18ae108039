/// Which requests get an access log line (`access_log:` in cluster.yaml).
///
/// HTTP (admin routes, `/v1/verify`, forward auth) is logged in full by default: it is not
/// the hot path. RESP and gRPC carry every verify of the gateways, so they log nothing unless
/// asked; `sampled` logs one command in `1 / sample_rate` per connection (gRPC: per node).
public struct AccessLogSettings: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case off, sampled, full
    }

    public var http: Mode = .full
    public var resp: Mode = .off
    public var grpc: Mode = .off
    /// The share of commands a `sampled` listener logs, from 0.000001 to 1.
    public var sampleRate = 0.01

    public init() {}

    /// Logs one request in this many when sampled: 1 / `sampleRate`, rounded.
    public var sampleEvery: UInt64 { UInt64(max(1, (1 / sampleRate).rounded())) }

    func validate() throws(ConfigError) {
        guard http != .sampled else {
            throw ConfigError(field: "access_log.http", problem: "cannot be sampled", fix: "use full or off; sampling is for resp and grpc")
        }
        guard sampleRate > 0, sampleRate <= 1 else {
            throw ConfigError(field: "access_log.sample_rate", problem: "must be above 0 and at most 1", fix: "e.g. 0.01 logs one command in a hundred")
        }
    }
}
