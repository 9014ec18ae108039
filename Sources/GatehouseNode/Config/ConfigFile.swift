import GatehouseCore
import Yams

/// The shape of `cluster.yaml`, as written by operators (snake_case).
struct ConfigFile: Decodable {
    struct Cluster: Decodable {
        var name: String?
    }

    struct Defaults: Decodable {
        var limits: [RateLimit]?
        var keyPrefix: String?
        enum CodingKeys: String, CodingKey {
            case limits
            case keyPrefix = "key_prefix"
        }
    }

    struct FailedAttempts: Decodable {
        var limit: Int64?
        var windowMs: Int64?
        var trackedSources: Int?
        enum CodingKeys: String, CodingKey {
            case limit
            case windowMs = "window_ms"
            case trackedSources = "tracked_sources"
        }
    }

    struct Limits: Decodable {
        var maxConnections: Int?
        var maxBodyBytes: Int?
        var maxImportBodyBytes: Int?
        var maxArguments: Int?
        var maxBulkBytes: Int?
        var throttleBuckets: Int?
        enum CodingKeys: String, CodingKey {
            case maxConnections = "max_connections"
            case maxBodyBytes = "max_body_bytes"
            case maxImportBodyBytes = "max_import_body_bytes"
            case maxArguments = "max_arguments"
            case maxBulkBytes = "max_bulk_bytes"
            case throttleBuckets = "throttle_buckets"
        }
    }

    struct Connections: Decodable {
        var maxUnauthenticated: Int?
        var maxPerSource: Int?
        var httpMax: Int?
        var respIdleTimeoutMs: Int64?
        var httpIdleTimeoutMs: Int64?
        var authTimeoutMs: Int64?
        var frameTimeoutMs: Int64?
        var outputHighWaterBytes: Int?
        var outputLimitBytes: Int?
        var outputStallTimeoutMs: Int64?
        var maxAuthFailures: Int?
        var eventLoopThreads: Int?
        var grpcMax: Int?
        var grpcIdleTimeoutMs: Int64?
        enum CodingKeys: String, CodingKey {
            case maxUnauthenticated = "max_unauthenticated"
            case maxPerSource = "max_per_source"
            case httpMax = "http_max"
            case respIdleTimeoutMs = "resp_idle_timeout_ms"
            case httpIdleTimeoutMs = "http_idle_timeout_ms"
            case authTimeoutMs = "auth_timeout_ms"
            case frameTimeoutMs = "frame_timeout_ms"
            case outputHighWaterBytes = "output_high_water_bytes"
            case outputLimitBytes = "output_limit_bytes"
            case outputStallTimeoutMs = "output_stall_timeout_ms"
            case maxAuthFailures = "max_auth_failures"
            case eventLoopThreads = "event_loop_threads"
            case grpcMax = "grpc_max"
            case grpcIdleTimeoutMs = "grpc_idle_timeout_ms"
        }

        /// Overrides in `settings` what the file gives.
        func apply(to settings: inout ConnectionSettings) {
            if let maxUnauthenticated { settings.maxUnauthenticated = maxUnauthenticated }
            if let maxPerSource { settings.maxPerSource = maxPerSource }
            if let httpMax { settings.httpMaxConnections = httpMax }
            if let respIdleTimeoutMs { settings.respIdleTimeoutMs = respIdleTimeoutMs }
            if let httpIdleTimeoutMs { settings.httpIdleTimeoutMs = httpIdleTimeoutMs }
            if let authTimeoutMs { settings.authTimeoutMs = authTimeoutMs }
            if let frameTimeoutMs { settings.frameTimeoutMs = frameTimeoutMs }
            if let outputHighWaterBytes { settings.outputHighWaterBytes = outputHighWaterBytes }
            if let outputLimitBytes { settings.outputLimitBytes = outputLimitBytes }
            if let outputStallTimeoutMs { settings.outputStallTimeoutMs = outputStallTimeoutMs }
            if let maxAuthFailures { settings.maxAuthFailures = maxAuthFailures }
            if let eventLoopThreads { settings.eventLoopThreads = eventLoopThreads }
            if let grpcMax { settings.grpcMaxConnections = grpcMax }
            if let grpcIdleTimeoutMs { settings.grpcIdleTimeoutMs = grpcIdleTimeoutMs }
        }
    }

    struct TLS: Decodable {
        var certificateFile: String?
        var privateKeyFile: String?
        var clientCAFile: String?
        var listeners: [String]?
        enum CodingKeys: String, CodingKey {
            case listeners
            case certificateFile = "certificate_file"
            case privateKeyFile = "private_key_file"
            case clientCAFile = "client_ca_file"
        }
    }

    struct Envoy: Decodable {
        struct Route: Decodable {
            var prefix: String
            var scopes: [String]
        }

        var rateLimitRules: String?
        var apiKeyDescriptor: String?
        var rateLimitHeaders: Bool?
        var keyHeader: String?
        var routes: [Route]?
        enum CodingKeys: String, CodingKey {
            case routes
            case rateLimitRules = "rate_limit_rules"
            case apiKeyDescriptor = "api_key_descriptor"
            case rateLimitHeaders = "rate_limit_headers"
            case keyHeader = "key_header"
        }
    }

    struct AdminToken: Decodable {
        var name: String
        var sha256: String?
        var secretEnv: String?
        var permissions: [String]
        enum CodingKeys: String, CodingKey {
            case name, sha256, permissions
            case secretEnv = "secret_env"
        }
    }

    struct Audit: Decodable {
        var retentionDays: Int?
        enum CodingKeys: String, CodingKey {
            case retentionDays = "retention_days"
        }
    }

    struct AccessLog: Decodable {
        var http: String?
        var resp: String?
        var grpc: String?
        var sampleRate: Double?
        enum CodingKeys: String, CodingKey {
            case http, resp, grpc
            case sampleRate = "sample_rate"
        }
    }

    struct Events: Decodable {
        var output: String?
        var path: String?
        var ringSize: Int?
        var windowMs: Int64?
        var burstThreshold: Int64?
        enum CodingKeys: String, CodingKey {
            case output, path
            case ringSize = "ring_size"
            case windowMs = "window_ms"
            case burstThreshold = "burst_threshold"
        }
    }

    struct Node: Decodable {
        var id: String
        var rpc: String?
        var http: String?
        var grpc: String?
        var gossip: String?
        var dataDir: String?
        enum CodingKeys: String, CodingKey {
            case id, rpc, http, grpc, gossip
            case dataDir = "data_dir"
        }
    }

    var cluster: Cluster?
    var pepper: String?
    var adminToken: String?
    var adminTokens: [AdminToken]?
    var audit: Audit?
    var accessLog: AccessLog?
    var events: Events?
    var gatewayTokens: [String]?
    var trustedProxies: [String]?
    var gossipKeys: [String]?
    var seeds: [String]?
    var timing: [String: Int64]?
    var defaults: Defaults?
    var failedAttempts: FailedAttempts?
    var limits: Limits?
    var connections: Connections?
    var tls: TLS?
    var envoy: Envoy?
    var logLevel: String?
    var nodes: [Node]?

    enum CodingKeys: String, CodingKey {
        case cluster, pepper, seeds, timing, defaults, limits, connections, tls, envoy, nodes, audit, events
        case adminToken = "admin_token"
        case adminTokens = "admin_tokens"
        case gatewayTokens = "gateway_tokens"
        case trustedProxies = "trusted_proxies"
        case gossipKeys = "gossip_keys"
        case failedAttempts = "failed_attempts"
        case logLevel = "log_level"
        case accessLog = "access_log"
    }

    /// Field names each section accepts; anything else is a typo we refuse rather than ignore.
    static let knownFields: [String: Set<String>] = [
        "": [
            "cluster", "pepper", "admin_token", "gateway_tokens", "trusted_proxies", "gossip_keys", "seeds", "timing", "defaults",
            "failed_attempts", "limits", "connections", "tls", "envoy", "log_level", "nodes", "admin_tokens", "audit",
            "access_log", "events",
        ],
        "access_log": ["http", "resp", "grpc", "sample_rate"],
        "events": ["output", "path", "ring_size", "window_ms", "burst_threshold"],
        "admin_tokens[]": ["name", "sha256", "secret_env", "permissions"],
        "audit": ["retention_days"],
        "cluster": ["name"],
        "defaults": ["limits", "key_prefix"],
        "failed_attempts": ["limit", "window_ms", "tracked_sources"],
        "limits": ["max_connections", "max_body_bytes", "max_import_body_bytes", "max_arguments", "max_bulk_bytes", "throttle_buckets"],
        "connections": [
            "max_unauthenticated", "max_per_source", "http_max", "resp_idle_timeout_ms", "http_idle_timeout_ms", "auth_timeout_ms",
            "frame_timeout_ms", "output_high_water_bytes", "output_limit_bytes", "output_stall_timeout_ms", "max_auth_failures",
            "event_loop_threads", "grpc_max", "grpc_idle_timeout_ms",
        ],
        "tls": ["certificate_file", "private_key_file", "client_ca_file", "listeners"],
        "nodes[]": ["id", "rpc", "http", "grpc", "gossip", "data_dir"],
        "envoy": ["rate_limit_rules", "api_key_descriptor", "rate_limit_headers", "key_header", "routes"],
        "envoy.routes[]": ["prefix", "scopes"],
        "defaults.limits[]": ["name", "limit", "window_ms"],
    ]

    /// Rejects fields no section knows, naming the first one found.
    static func checkFieldNames(_ node: Yams.Node, section: String = "", path: String = "") throws(ConfigError) {
        if let mapping = node.mapping {
            guard let known = knownFields[section] else { return }
            for (key, value) in mapping {
                let name = key.string ?? "?"
                let fieldPath = path.isEmpty ? name : "\(path).\(name)"
                guard known.contains(name) else {
                    throw ConfigError(
                        field: fieldPath, problem: "is not a known setting",
                        fix: "check the spelling; known here: \(known.sorted().joined(separator: ", "))")
                }
                let childSection = section.isEmpty ? name : "\(section).\(name)"
                try checkFieldNames(value, section: childSection, path: fieldPath)
            }
        } else if let sequence = node.sequence {
            for (index, item) in sequence.enumerated() {
                try checkFieldNames(item, section: "\(section)[]", path: "\(path)[\(index)]")
            }
        }
    }
}
