import GatehouseCore
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
        let dataDir = node.dataDir ?? "./gatehouse-data/\(node.id)"
        config.dataDirectory = dataDir.hasPrefix("/") ? dataDir : "\(baseDirectory)/\(dataDir)"

        if let pepper = environment[Environment.pepper] ?? file.pepper {
            config.pepper = Array(pepper.utf8)
        }
        config.adminToken = environment[Environment.adminToken] ?? file.adminToken
        if let tokens = environment[Environment.gatewayTokens] {
            config.gatewayTokens = tokens.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        } else {
            config.gatewayTokens = file.gatewayTokens ?? []
        }
        if let limits = file.defaults?.limits { config.defaultLimits = limits }
        if let prefix = file.defaults?.keyPrefix { config.defaultKeyPrefix = prefix }
        if let limit = file.failedAttempts?.limit { config.decision.failedAttemptLimit = limit }
        if let window = file.failedAttempts?.windowMs { config.decision.failedAttemptWindowMs = window }
        if let value = file.limits?.maxConnections { config.maxConnections = value }
        if let value = file.limits?.maxBodyBytes { config.maxBodyBytes = value }
        if let value = file.limits?.maxArguments { config.respLimits.maxArguments = value }
        if let value = file.limits?.maxBulkBytes { config.respLimits.maxBulkBytes = value }
        if let value = file.limits?.throttleBuckets {
            guard value > 0 else {
                throw ConfigError(field: "limits.throttle_buckets", problem: "must be positive", fix: "e.g. 1000000")
            }
            config.decision.throttleBucketCapacity = value
        }
        if let level = file.logLevel {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigError(field: "log_level", problem: "\"\(level)\" is not a level", fix: "use one of trace, debug, info, notice, warning, error, critical")
            }
            config.logLevel = parsed
        }
        try config.validate()
        return config
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
