import Foundation
import GatehouseCore
import GatehouseMembership
import Logging
import Yams

/// Builds a `NodeConfig` from a `cluster.yaml` and the environment.
public enum ConfigLoader {
    /// Environment variables that can stand in for secrets in the file.
    public enum Environment {
        public static let adminToken = "GATEHOUSE_ADMIN_TOKEN"
        public static let gatewayTokens = "GATEHOUSE_GATEWAY_TOKENS"
        public static let pepper = "GATEHOUSE_PEPPER"
        public static let gossipKeys = "GATEHOUSE_GOSSIP_KEYS"
        /// Moves this process's wall clock by so many milliseconds: how the tests (and an
        /// operator rehearsing) make a node whose clock is wrong. Never set it in production.
        public static let clockOffsetMs = "GATEHOUSE_CLOCK_OFFSET_MS"
        /// Scheduling priority (nice, -20…19) of the data plane's thread; -10 when unset.
        public static let dataPlaneNice = "GATEHOUSE_DATA_PLANE_NICE"
    }

    /// The node `nodeID` of the cluster described by `yaml`. Relative data directories are
    /// resolved against `baseDirectory` (the config file's folder).
    public static func load(
        yaml: String, nodeID: String?, environment: [String: String], baseDirectory: String
    ) throws(ConfigError) -> NodeConfig {
        let tree: Yams.Node?
        do {
            tree = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(field: "(file)", problem: "is not valid YAML: \(error)", fix: "correct the YAML syntax at the position given")
        }
        guard let tree else {
            throw ConfigError(field: "(file)", problem: "is empty", fix: "describe at least one node under `nodes:`")
        }
        try ConfigFile.checkFieldNames(tree)
        let file: ConfigFile
        do {
            file = try YAMLDecoder().decode(ConfigFile.self, from: yaml)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw ConfigError(field: "(file)", problem: "\(error)", fix: "compare the file with the config reference in README.md")
        }
        return try resolve(file, nodeID: nodeID, environment: environment, baseDirectory: baseDirectory)
    }

    /// The ids of every node a config file describes, in order.
    public static func nodeIDs(yaml: String) throws(ConfigError) -> [String] {
        do {
            let file = try YAMLDecoder().decode(ConfigFile.self, from: yaml)
            return (file.nodes ?? []).map(\.id)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw ConfigError(field: "(file)", problem: "is not valid YAML", fix: "correct the YAML syntax")
        }
    }

    /// The embedded single-node defaults, with secrets from the environment when set.
    public static func defaults(environment: [String: String]) throws(ConfigError) -> NodeConfig {
        var config = NodeConfig()
        if let pepper = environment[Environment.pepper] { config.pepper = Array(pepper.utf8) }
        config.adminToken = environment[Environment.adminToken]
        if let tokens = environment[Environment.gatewayTokens] {
            config.gatewayTokens = tokens.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        try config.validate()
        return config
    }

    static func resolve(
        _ file: ConfigFile, nodeID: String?, environment: [String: String], baseDirectory: String
    ) throws(ConfigError) -> NodeConfig {
        var config = NodeConfig()
        let nodes = file.nodes ?? []
        guard !nodes.isEmpty else {
            throw ConfigError(field: "nodes", problem: "is missing or empty", fix: "list the nodes, each with id, rpc, http and data_dir")
        }
        var seen = Set<String>()
        for (index, node) in nodes.enumerated() where !seen.insert(node.id).inserted {
            throw ConfigError(field: "nodes[\(index)].id", problem: "\"\(node.id)\" is used twice", fix: "give every node a unique id")
        }
        let chosenID = nodeID ?? (nodes.count == 1 ? nodes[0].id : nil)
        guard let chosenID else {
            throw ConfigError(field: "nodes", problem: "lists \(nodes.count) nodes and no --node was given", fix: "start with --node and one of: \(nodes.map(\.id).joined(separator: ", "))")
        }
        guard let position = nodes.firstIndex(where: { $0.id == chosenID }) else {
            throw ConfigError(field: "nodes", problem: "has no node \"\(chosenID)\"", fix: "use one of: \(nodes.map(\.id).joined(separator: ", "))")
        }
        let node = nodes[position]
        config.nodeID = node.id
        config.clusterName = file.cluster?.name ?? config.clusterName
        if let rpc = node.rpc {
            guard let address = HostPort(parsing: rpc) else {
                throw ConfigError(field: "nodes[\(position)].rpc", problem: "\"\(rpc)\" is not host:port", fix: "write it like 127.0.0.1:7379")
            }
            config.rpcAddress = address
        }
        if let http = node.http {
            guard let address = HostPort(parsing: http) else {
                throw ConfigError(field: "nodes[\(position)].http", problem: "\"\(http)\" is not host:port", fix: "write it like 127.0.0.1:7380")
            }
            config.httpAddress = address
        }
        config.grpcAddress = nil
        if let grpc = node.grpc {
            guard let address = HostPort(parsing: grpc) else {
                throw ConfigError(field: "nodes[\(position)].grpc", problem: "\"\(grpc)\" is not host:port", fix: "write it like 127.0.0.1:7381")
            }
            config.grpcAddress = address
        }
        let dataDir = node.dataDir ?? "./gatehouse-data/\(node.id)"
        config.dataDirectory = dataDir.hasPrefix("/") ? dataDir : "\(baseDirectory)/\(dataDir)"

        if let gossip = node.gossip {
            config.cluster = try clusterConfig(file, gossip: gossip, position: position, environment: environment)
        }
        if let pepper = environment[Environment.pepper] ?? file.pepper {
            config.pepper = Array(pepper.utf8)
        }
        config.adminToken = environment[Environment.adminToken] ?? file.adminToken
        config.adminTokens = try adminTokens(file.adminTokens ?? [], environment: environment)
        if let days = file.audit?.retentionDays { config.auditRetentionDays = days }
        if let section = file.accessLog { config.accessLog = try accessLogSettings(section) }
        if let section = file.events { config.events = try eventSettings(section, baseDirectory: baseDirectory) }
        if let tokens = environment[Environment.gatewayTokens] {
            config.gatewayTokens = tokens.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        } else {
            config.gatewayTokens = file.gatewayTokens ?? []
        }
        if let limits = file.defaults?.limits { config.defaultLimits = limits }
        if let prefix = file.defaults?.keyPrefix { config.defaultKeyPrefix = prefix }
        if let limit = file.failedAttempts?.limit { config.decision.failedAttemptLimit = limit }
        if let window = file.failedAttempts?.windowMs { config.decision.failedAttemptWindowMs = window }
        if let sources = file.failedAttempts?.trackedSources { config.decision.failedAttemptSources = sources }
        config.trustedProxies = try trustedProxies(file.trustedProxies ?? [])
        if let value = file.limits?.maxConnections { config.maxConnections = value }
        if let value = file.limits?.maxBodyBytes { config.maxBodyBytes = value }
        if let value = file.limits?.maxImportBodyBytes { config.maxImportBodyBytes = value }
        if let value = file.limits?.maxArguments { config.respLimits.maxArguments = value }
        if let value = file.limits?.maxBulkBytes { config.respLimits.maxBulkBytes = value }
        file.connections?.apply(to: &config.connections)
        if let tls = file.tls { config.tls = try tlsSettings(tls, baseDirectory: baseDirectory) }
        if let envoy = file.envoy { config.envoy = try envoySettings(envoy, baseDirectory: baseDirectory) }
        if let value = file.limits?.throttleBuckets { config.decision.throttleBucketCapacity = value }
        if let level = file.logLevel {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigError(field: "log_level", problem: "\"\(level)\" is not a level", fix: "use one of trace, debug, info, notice, warning, error, critical")
            }
            config.logLevel = parsed
        }
        try config.validate()
        return config
    }

    /// The `admin_tokens:` list. A secret from the environment is hashed here and never kept.
    static func adminTokens(_ entries: [ConfigFile.AdminToken], environment: [String: String]) throws(ConfigError) -> [AdminTokenSpec] {
        var specs: [AdminTokenSpec] = []
        for (index, entry) in entries.enumerated() {
            let field = "admin_tokens[\(index)]"
            let secret: AdminTokenSpec.Secret
            switch (entry.sha256, entry.secretEnv) {
            case (.some, .some):
                throw ConfigError(field: field, problem: "gives both sha256 and secret_env", fix: "keep one: the secret's SHA-256, or the variable that holds the secret")
            case (let hex?, nil):
                guard let hash = AdminCredential.parseHex(hex) else {
                    throw ConfigError(
                        field: "\(field).sha256", problem: "is not 64 hex digits",
                        fix: "give the SHA-256 of the secret, e.g. from `printf %s \"$SECRET\" | sha256sum` or `gatehouse tokens generate`")
                }
                secret = .sha256(hash)
            case (nil, let variable?):
                guard let value = environment[variable], !value.isEmpty else {
                    throw ConfigError(field: "\(field).secret_env", problem: "names \(variable), which is not set", fix: "set \(variable) to the token's secret, or give sha256 instead")
                }
                guard value.utf8.count >= NodeConfig.minimumTokenBytes else {
                    throw ConfigError(
                        field: "\(field).secret_env", problem: "\(variable) is shorter than \(NodeConfig.minimumTokenBytes) characters",
                        fix: "use a long random secret, e.g. `openssl rand -hex 24`")
                }
                secret = .environment(variable: variable, hash: AdminCredential.sha256(value))
            case (nil, nil):
                secret = .generated
            }
            var permissions = Set<AdminPermission>()
            for (position, name) in entry.permissions.enumerated() {
                guard let permission = AdminPermission(rawValue: name.trimmingSpaces()) else {
                    throw ConfigError(field: "\(field).permissions[\(position)]", problem: "\"\(name)\" is not a permission", fix: "use any of \(AdminPermission.names)")
                }
                permissions.insert(permission)
            }
            specs.append(AdminTokenSpec(name: entry.name, secret: secret, permissions: permissions))
        }
        return specs
    }

    /// The `trusted_proxies` list: CIDR blocks or single addresses.
    static func trustedProxies(_ entries: [String]) throws(ConfigError) -> TrustedProxies {
        var ranges: [AddressRange] = []
        for (index, entry) in entries.enumerated() {
            let field = "trusted_proxies[\(index)]"
            do {
                ranges.append(try AddressRange(parsing: entry.trimmingSpaces()))
            } catch {
                switch error {
                case .notAnAddress:
                    throw ConfigError(
                        field: field, problem: "\"\(entry)\" is not an IP address or CIDR block",
                        fix: "write the proxies' addresses like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32 (no host names)")
                case .prefixOutOfRange(let maximum):
                    throw ConfigError(
                        field: field, problem: "\"\(entry)\" has a prefix length over \(maximum)",
                        fix: "use a prefix length from 0 to \(maximum), or leave it out for a single address")
                case .hostBitsSet(let network):
                    throw ConfigError(
                        field: field, problem: "\"\(entry)\" has address bits set beyond its prefix",
                        fix: "write the block as \(network), or give the single address without a prefix")
                }
            }
        }
        return TrustedProxies(ranges)
    }

    /// The `tls:` section; relative paths are relative to the config file, like data directories.
    /// The `access_log:` section; modes are named, so a typo is refused rather than read as off.
    static func accessLogSettings(_ section: ConfigFile.AccessLog) throws(ConfigError) -> AccessLogSettings {
        var settings = AccessLogSettings()
        let modes = AccessLogSettings.Mode.allCases.map(\.rawValue).joined(separator: ", ")
        for (name, text, keyPath) in [
            ("http", section.http, \AccessLogSettings.http), ("resp", section.resp, \AccessLogSettings.resp),
            ("grpc", section.grpc, \AccessLogSettings.grpc),
        ] {
            guard let text else { continue }
            guard let mode = AccessLogSettings.Mode(rawValue: text) else {
                throw ConfigError(field: "access_log.\(name)", problem: "\"\(text)\" is not a mode", fix: "use one of \(modes)")
            }
            settings[keyPath: keyPath] = mode
        }
        if let rate = section.sampleRate { settings.sampleRate = rate }
        return settings
    }

    /// The `events:` section; the output is named, so a typo is refused rather than read as off.
    static func eventSettings(_ section: ConfigFile.Events, baseDirectory: String) throws(ConfigError) -> EventSettings {
        var settings = EventSettings()
        if let text = section.output {
            guard let output = EventSettings.Output(rawValue: text) else {
                let outputs = EventSettings.Output.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError(field: "events.output", problem: "\"\(text)\" is not an output", fix: "use one of \(outputs)")
            }
            settings.output = output
        }
        if let path = section.path, !path.isEmpty { settings.path = path.hasPrefix("/") ? path : "\(baseDirectory)/\(path)" }
        if let size = section.ringSize { settings.ringSize = size }
        if let window = section.windowMs { settings.windowMs = window }
        if let threshold = section.burstThreshold { settings.burstThreshold = threshold }
        return settings
    }

    static func tlsSettings(_ section: ConfigFile.TLS, baseDirectory: String) throws(ConfigError) -> TLSSettings {
        func resolved(_ path: String?) -> String? {
            guard let path, !path.isEmpty else { return nil }
            return path.hasPrefix("/") ? path : "\(baseDirectory)/\(path)"
        }
        var settings = TLSSettings(
            certificateFile: resolved(section.certificateFile), privateKeyFile: resolved(section.privateKeyFile),
            clientCAFile: resolved(section.clientCAFile))
        if let names = section.listeners {
            var listeners = Set<ClientListener>()
            for (index, name) in names.enumerated() {
                guard let listener = ClientListener(rawValue: name.trimmingSpaces()) else {
                    throw ConfigError(
                        field: "tls.listeners[\(index)]", problem: "\"\(name)\" is not a listener",
                        fix: "list any of resp, http and grpc, or leave listeners out for all three")
                }
                listeners.insert(listener)
            }
            settings.listeners = listeners
        }
        return settings
    }

    /// The `envoy:` section; the rules file is read and checked now, so a bad one stops the start.
    static func envoySettings(_ section: ConfigFile.Envoy, baseDirectory: String) throws(ConfigError) -> EnvoySettings {
        var settings = EnvoySettings()
        if let path = section.rateLimitRules {
            let resolved = path.hasPrefix("/") ? path : "\(baseDirectory)/\(path)"
            guard let yaml = try? String(contentsOfFile: resolved, encoding: .utf8) else {
                throw ConfigError(
                    field: "envoy.rate_limit_rules", problem: "\(resolved) cannot be read",
                    fix: "give the path of a rules file in envoyproxy/ratelimit's format (relative to this file)")
            }
            settings.rateLimitRules = try EnvoyRateLimitRulesFile.parse(yaml: yaml, file: path)
        }
        if let descriptor = section.apiKeyDescriptor {
            guard !descriptor.isEmpty else {
                throw ConfigError(field: "envoy.api_key_descriptor", problem: "is empty", fix: "name a descriptor key, e.g. gatehouse_api_key")
            }
            settings.apiKeyDescriptor = descriptor
        }
        if let headers = section.rateLimitHeaders { settings.rateLimitHeaders = headers }
        var routes: [EnvoyAuthorizationSettings.Route] = []
        for (index, route) in (section.routes ?? []).enumerated() {
            guard route.prefix.hasPrefix("/") else {
                throw ConfigError(field: "envoy.routes[\(index)].prefix", problem: "does not start with /", fix: "write a path prefix like /orders")
            }
            routes.append(.init(pathPrefix: route.prefix, scopes: route.scopes))
        }
        settings.authorization = EnvoyAuthorizationSettings(keyHeader: section.keyHeader ?? "x-api-key", routes: routes)
        return settings
    }

    /// Timing knobs accepted under `timing:`, memberlist's names in snake_case.
    static var timingFields: [String: WritableKeyPath<MembershipSettings, Int64>] { [
        "probe_interval_ms": \.probeIntervalMs,
        "probe_timeout_ms": \.probeTimeoutMs,
        "gossip_interval_ms": \.gossipIntervalMs,
        "push_pull_interval_ms": \.pushPullIntervalMs,
        "tombstone_ms": \.tombstoneMs,
        "dead_retention_ms": \.deadRetentionMs,
        "reconnect_interval_ms": \.reconnectIntervalMs,
    ] }
    static var timingCounts: [String: WritableKeyPath<MembershipSettings, Int>] { [
        "indirect_checks": \.indirectChecks,
        "suspicion_multiplier": \.suspicionMultiplier,
        "suspicion_max_timeout_multiplier": \.suspicionMaxTimeoutMultiplier,
        "retransmit_multiplier": \.retransmitMultiplier,
        "gossip_fanout": \.gossipFanout,
        "awareness_max_multiplier": \.awarenessMaxMultiplier,
    ] }

    static func clusterConfig(
        _ file: ConfigFile, gossip: String, position: Int, environment: [String: String]
    ) throws(ConfigError) -> ClusterConfig {
        guard let address = HostPort(parsing: gossip) else {
            throw ConfigError(field: "nodes[\(position)].gossip", problem: "\"\(gossip)\" is not host:port", fix: "write it like 127.0.0.1:7946")
        }
        var seeds: [HostPort] = []
        if let listed = file.seeds {
            for (index, text) in listed.enumerated() {
                guard let seed = HostPort(parsing: text) else {
                    throw ConfigError(field: "seeds[\(index)]", problem: "\"\(text)\" is not host:port", fix: "list gossip addresses like 127.0.0.1:7946")
                }
                seeds.append(seed)
            }
        } else {
            seeds = (file.nodes ?? []).compactMap { $0.gossip.flatMap(HostPort.init(parsing:)) }
        }
        let keys: [String]
        if let fromEnvironment = environment[Environment.gossipKeys] {
            keys = fromEnvironment.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        } else {
            keys = file.gossipKeys ?? []
        }
        guard !keys.isEmpty else {
            throw ConfigError(
                field: "gossip_keys", problem: "is required when nodes gossip (every packet is encrypted)",
                fix: "add a key from `openssl rand -base64 32`, the same on every node, or set \(Environment.gossipKeys)")
        }
        do {
            _ = try ClusterKeyring(base64Keys: keys, clusterName: file.cluster?.name ?? "gatehouse")
        } catch {
            throw ConfigError(field: "gossip_keys[\(error.index)]", problem: "is not 32 bytes of base64", fix: "generate keys with `openssl rand -base64 32`")
        }
        var settings = MembershipSettings()
        var antiEntropyIntervalMs: Int64 = 5_000
        var counterSyncIntervalMs: Int64 = 50
        var counterMaxStalenessMs = CounterSendRule().maxStalenessMs
        var udpReceiveBufferBytes = 4 * 1024 * 1024
        var maxClockSkewMs = ClusterConfig.defaultMaxClockSkewMs
        let ownFields = [
            "anti_entropy_interval_ms", "counter_sync_interval_ms", "counter_max_staleness_ms", "udp_receive_buffer_bytes",
            "max_clock_skew_ms",
        ]
        for (name, value) in file.timing ?? [:] {
            guard value > 0 else {
                throw ConfigError(field: "timing.\(name)", problem: "must be positive", fix: "give a positive number or leave it out for the default")
            }
            if name == "anti_entropy_interval_ms" {
                antiEntropyIntervalMs = value
            } else if name == "counter_sync_interval_ms" {
                counterSyncIntervalMs = value
            } else if name == "counter_max_staleness_ms" {
                counterMaxStalenessMs = value
            } else if name == "udp_receive_buffer_bytes" {
                udpReceiveBufferBytes = Int(clamping: value)
            } else if name == "max_clock_skew_ms" {
                maxClockSkewMs = value
            } else if let path = timingFields[name] {
                settings[keyPath: path] = value
            } else if let path = timingCounts[name] {
                settings[keyPath: path] = Int(value)
            } else {
                let known = (Array(timingFields.keys) + Array(timingCounts.keys) + ownFields).sorted().joined(separator: ", ")
                throw ConfigError(field: "timing.\(name)", problem: "is not a known setting", fix: "known here: \(known)")
            }
        }
        guard settings.probeTimeoutMs < settings.probeIntervalMs else {
            throw ConfigError(field: "timing.probe_timeout_ms", problem: "must be shorter than probe_interval_ms", fix: "e.g. 500 with an interval of 1000")
        }
        var cluster = ClusterConfig(gossipAddress: address, seeds: seeds, gossipKeys: keys, membership: settings)
        cluster.antiEntropyIntervalMs = antiEntropyIntervalMs
        cluster.counterSyncIntervalMs = counterSyncIntervalMs
        cluster.counterSendRule.maxStalenessMs = counterMaxStalenessMs
        cluster.udpReceiveBufferBytes = udpReceiveBufferBytes
        cluster.maxClockSkewMs = maxClockSkewMs
        return cluster
    }

    static func describe(_ error: DecodingError) -> ConfigError {
        func path(_ context: DecodingError.Context) -> String {
            var text = ""
            for key in context.codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text.isEmpty ? "(file)" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return ConfigError(field: path(context), problem: "has the wrong type", fix: "give a \(type) here")
        case .valueNotFound(let type, let context):
            return ConfigError(field: path(context), problem: "is empty", fix: "give a \(type) here")
        case .keyNotFound(let key, let context):
            let field = path(context) == "(file)" ? key.stringValue : "\(path(context)).\(key.stringValue)"
            return ConfigError(field: field, problem: "is required", fix: "add it")
        case .dataCorrupted(let context):
            return ConfigError(field: path(context), problem: context.debugDescription, fix: "correct the value")
        @unknown default:
            return ConfigError(field: "(file)", problem: "\(error)", fix: "compare the file with the config reference in README.md")
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
