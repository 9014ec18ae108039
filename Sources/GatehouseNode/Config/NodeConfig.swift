import GatehouseCore
import GatehouseWire
import Logging

/// Everything one node needs to run, resolved from embedded defaults, the config file and
/// the environment. Secrets left `nil` are generated on first start and kept in the data
/// directory (see `NodeSecrets`).
public struct NodeConfig: Sendable {
    public var nodeID = "n1"
    public var clusterName = "gatehouse"
    public var rpcAddress = HostPort(host: "127.0.0.1", port: 7379)
    public var httpAddress = HostPort(host: "127.0.0.1", port: 7380)
    /// The Envoy gRPC listener (rate-limit service and ext_authz); `nil` runs none. On by
    /// default without a config file; a node in a file has one only with `grpc:`.
    public var grpcAddress: HostPort? = HostPort(host: "127.0.0.1", port: 7381)
    public var envoy = EnvoySettings()
    public var dataDirectory = "./gatehouse-data"
    /// `nil`: use (or create) the pepper stored in the data directory.
    public var pepper: [UInt8]?
    /// `nil`: use (or create) the admin token stored in the data directory.
    public var adminToken: String?
    /// Named admin tokens with permissions (`admin_tokens:`), beside `adminToken`.
    public var adminTokens: [AdminTokenSpec] = []
    /// How long audit entries are kept (`audit.retention_days`).
    public var auditRetentionDays = AuditTrail.defaultRetentionDays
    /// When non-empty, RESP connections must `AUTH` and `POST /v1/verify` must carry one.
    public var gatewayTokens: [String] = []
    /// Proxies whose `X-Forwarded-For`/`X-Real-IP` name the client (`trusted_proxies`);
    /// empty: the peer of each connection is the client, and those headers are ignored.
    public var trustedProxies = TrustedProxies()
    public var defaultLimits: [RateLimit] = [.defaultHourly]
    public var defaultKeyPrefix = APIKeyFormat.defaultPrefix
    public var decision = Gatekeeper.Settings()
    public var respLimits = RESPLimits.default
    /// Authenticated RESP connections (see `ConnectionSettings` for the other caps).
    public var maxConnections = 10_000
    public var connections = ConnectionSettings()
    public var maxBodyBytes = 64 * 1024
    /// The body of one bulk import request (`POST /v1/keys/import`, NDJSON), which an
    /// admin sends in pieces of this size; every other route keeps `maxBodyBytes`.
    public var maxImportBodyBytes = 8 * 1024 * 1024
    /// How often coalesced usage (`last_used_at`, credits) is written to disk.
    public var usageFlushIntervalMs: Int64 = 1_000
    public var logLevel: Logger.Level = .info
    /// Which requests get an access log line (`access_log:`); RESP and gRPC: none by default.
    public var accessLog = AccessLogSettings()
    /// Security events: output, ring size, aggregation window (`events:`).
    public var events = EventSettings()
    /// `false` keeps keys in memory only (tests); production nodes always persist.
    public var persistent = true
    /// Gossip membership; `nil` runs a standalone node.
    public var cluster: ClusterConfig?
    /// TLS (and optionally mTLS) on the client listeners; none configured: plain.
    public var tls = TLSSettings()
    /// Deprecated HTTP routes and fields to announce. Not a setting of the file: always the
    /// product's table, except in tests that register their own.
    public var deprecations = DeprecationRegistry.product

    public init() {}

    public static let minimumPepperBytes = 32
    public static let minimumTokenBytes = 16
    public static let minimumTrackedSources = 16

    /// Checks what the types cannot: sizes of secrets and sane numbers.
    public func validate() throws(ConfigError) {
        if let pepper, pepper.count < Self.minimumPepperBytes {
            throw ConfigError(
                field: "pepper", problem: "is \(pepper.count) bytes, shorter than \(Self.minimumPepperBytes)",
                fix: "use at least 32 random characters, e.g. the output of `openssl rand -hex 32`")
        }
        if let adminToken, adminToken.utf8.count < Self.minimumTokenBytes {
            throw ConfigError(
                field: "admin_token", problem: "is shorter than \(Self.minimumTokenBytes) characters",
                fix: "use a long random token, e.g. `openssl rand -hex 24`, or leave it out to have one generated")
        }
        var names = Set<String>()
        for (index, token) in adminTokens.enumerated() {
            let field = "admin_tokens[\(index)]"
            guard AuditRules.isName(token.name, maxBytes: AuditRules.maxActorBytes) else {
                throw ConfigError(
                    field: "\(field).name", problem: "\"\(token.name)\" is not a token name",
                    fix: "use 1 to \(AuditRules.maxActorBytes) of a-z, 0-9, '.', '_', '-', ':' starting with a letter or digit, e.g. ci-deployer")
            }
            guard token.name != AdminTokenSpec.legacyName else {
                throw ConfigError(field: "\(field).name", problem: "\"admin\" names the admin_token", fix: "choose another name")
            }
            guard names.insert(token.name).inserted else {
                throw ConfigError(field: "\(field).name", problem: "\"\(token.name)\" is used twice", fix: "give every admin token its own name")
            }
            guard !token.permissions.isEmpty else {
                throw ConfigError(field: "\(field).permissions", problem: "is empty", fix: "list what the token may do: any of \(AdminPermission.names)")
            }
        }
        guard (1...AuditTrail.maxRetentionDays).contains(auditRetentionDays) else {
            throw ConfigError(
                field: "audit.retention_days", problem: "must be from 1 to \(AuditTrail.maxRetentionDays)",
                fix: "leave it out for \(AuditTrail.defaultRetentionDays) days")
        }
        for (index, token) in gatewayTokens.enumerated() where token.utf8.count < Self.minimumTokenBytes {
            throw ConfigError(
                field: "gateway_tokens[\(index)]", problem: "is shorter than \(Self.minimumTokenBytes) characters",
                fix: "use long random tokens, e.g. `openssl rand -hex 24`")
        }
        do {
            try KeyRules.validateLimits(defaultLimits)
        } catch {
            throw ConfigError(field: "defaults.limits", problem: error.message, fix: "give each limit a unique name, a positive limit and window_ms")
        }
        guard APIKeyFormat.isValidPrefix(defaultKeyPrefix) else {
            throw ConfigError(field: "defaults.key_prefix", problem: "must be 1 to 16 of [a-z0-9]", fix: "use something like \"gk\"")
        }
        guard maxConnections > 0 else {
            throw ConfigError(field: "limits.max_connections", problem: "must be positive", fix: "set it to e.g. 10000")
        }
        try connections.validate()
        try accessLog.validate()
        try events.validate()
        try tls.validate()
        guard maxBodyBytes >= 1024 else {
            throw ConfigError(field: "limits.max_body_bytes", problem: "must be at least 1024", fix: "set it to e.g. 65536")
        }
        guard (maxBodyBytes...(256 * 1024 * 1024)).contains(maxImportBodyBytes) else {
            throw ConfigError(
                field: "limits.max_import_body_bytes", problem: "must be from limits.max_body_bytes to 268435456",
                fix: "leave it out for 8388608 (8 MiB)")
        }
        guard decision.failedAttemptWindowMs > 0, decision.failedAttemptLimit >= 0 else {
            throw ConfigError(field: "failed_attempts", problem: "needs limit >= 0 and window_ms > 0", fix: "e.g. limit: 50, window_ms: 60000; limit 0 turns it off")
        }
        guard (Self.minimumTrackedSources...Int(Int32.max)).contains(decision.failedAttemptSources) else {
            throw ConfigError(
                field: "failed_attempts.tracked_sources", problem: "must be from \(Self.minimumTrackedSources) to \(Int32.max)",
                fix: "leave it out for \(SourceThrottle.defaultCapacity) (about 5 MiB), or raise it to hold a real offender through larger floods")
        }
        guard (1...Int(Int32.max)).contains(decision.throttleBucketCapacity) else {
            throw ConfigError(field: "limits.throttle_buckets", problem: "must be from 1 to \(Int32.max)", fix: "e.g. 1000000")
        }
    }
}
