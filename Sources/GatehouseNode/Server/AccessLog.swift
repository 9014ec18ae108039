import Logging
import Synchronization

/// One JSON line per request in the shape operators asked for, with ECS field names so a
/// collector (Filebeat, Vector, the OpenTelemetry collector) maps it without rules: time,
/// level, correlation id, key id, owner, source ip, method or command, path, status or code,
/// duration and user agent.
///
/// Never an API key or token: callers give the key's id, which is what `APIKeyFormat.redacted`
/// would show at most, and the request's path without its query.
struct AccessLog: Sendable {
    /// `event.dataset` of access lines; `JSONLogHandler` writes them with ECS base fields.
    static let dataset = "gatehouse.access"
    /// A user agent longer than this is cut: it is the client's text, not ours to store whole.
    static let maxUserAgentBytes = 256

    let logger: Logger
    let settings: AccessLogSettings

    /// Access lines are asked for by `access_log`, not by `log_level`: they are written at
    /// info (error for 5xx) even when the node logs only warnings.
    init(logger: Logger, settings: AccessLogSettings) {
        var logger = logger
        if logger.logLevel > .info { logger.logLevel = .info }
        self.logger = logger
        self.settings = settings
    }

    /// What one line says; fields left `nil` are left out of it.
    struct Entry {
        var requestID: RequestID
        var keyID: String?
        var owner: String?
        var sourceIP: String?
        /// HTTP's method (`http.request.method`) ...
        var method: String?
        /// ... or RESP's command and the gRPC method (`gatehouse.command`).
        var command: String?
        var path: String?
        var status: Int?
        /// The verify code (`VALID`, `RATE_LIMITED`…) or RESP error kind (`gatehouse.code`).
        var code: String?
        var durationNanoseconds: Int64
        var userAgent: String?
        /// The admin token's name, on admin routes.
        var actor: String?
    }

    func write(_ entry: Entry) {
        var metadata: Logger.Metadata = [
            "event.dataset": .string(Self.dataset),
            "http.request.id": .string(entry.requestID.value),
            "trace.id": .string(entry.requestID.value),
            "event.duration": .stringConvertible(entry.durationNanoseconds),
        ]
        metadata["gatehouse.key_id"] = entry.keyID.map { .string($0) }
        metadata["gatehouse.owner"] = entry.owner.map { .string($0) }
        metadata["gatehouse.actor"] = entry.actor.map { .string($0) }
        metadata["source.ip"] = entry.sourceIP.map { .string($0) }
        metadata["http.request.method"] = entry.method.map { .string($0) }
        metadata["gatehouse.command"] = entry.command.map { .string($0) }
        metadata["url.path"] = entry.path.map { .string($0) }
        metadata["http.response.status_code"] = entry.status.map { .stringConvertible($0) }
        metadata["gatehouse.code"] = entry.code.map { .string($0) }
        metadata["user_agent.original"] = entry.userAgent.map { .string(String(decoding: $0.utf8.prefix(Self.maxUserAgentBytes), as: UTF8.self)) }
        let level: Logger.Level = (entry.status ?? 0) >= 500 ? .error : .info
        logger.log(level: level, "access", metadata: metadata)
    }
}

/// Decides which commands of one RESP connection get an access line: none, all, or one in
/// `sampleEvery` (the connection's first, then every `sampleEvery`th). Counting, not a random
/// draw: no syscall and no shared state on the hot path.
struct AccessLogSampler {
    let mode: AccessLogSettings.Mode
    let every: UInt64
    private var seen: UInt64 = 0

    init(_ mode: AccessLogSettings.Mode, every: UInt64) {
        self.mode = mode
        self.every = every
    }

    /// Whether the next command is logged.
    mutating func next() -> Bool {
        switch mode {
        case .off:
            return false
        case .full:
            return true
        case .sampled:
            defer { seen &+= 1 }
            return seen % every == 0
        }
    }
}

/// `AccessLogSampler` for calls from many tasks at once (the gRPC services), counting node-wide.
final class SharedAccessLogSampler: Sendable {
    let mode: AccessLogSettings.Mode
    private let every: UInt64
    private let seen = Atomic<UInt64>(0)

    init(_ mode: AccessLogSettings.Mode, every: UInt64) {
        self.mode = mode
        self.every = every
    }

    func next() -> Bool {
        switch mode {
        case .off:
            return false
        case .full:
            return true
        case .sampled:
            return seen.add(1, ordering: .relaxed).oldValue % every == 0
        }
    }
}
