import Yams

/// Reads rate-limit rules written as envoyproxy/ratelimit's config files: one domain a YAML
/// document (several documents separated by `---` for several domains), each
/// `domain` and `descriptors`, each descriptor `key`, optional `value`, `rate_limit: {unit,
/// requests_per_unit, name}`, `unlimited`, `shadow_mode`, `replaces: [{name}]`,
/// `detailed_metric` (accepted; Gatehouse's metrics are per domain) and nested `descriptors`.
/// Unknown fields are refused, naming the field.
public enum EnvoyRateLimitRulesFile {
    public static func parse(yaml: String, file: String) throws(ConfigError) -> EnvoyRateLimitRules {
        var documents: [Yams.Node] = []
        do {
            var sequence = try Yams.compose_all(yaml: yaml)
            while let document = sequence.next() { documents.append(document) }
            if let error = sequence.error { throw error }
        } catch {
            throw ConfigError(field: file, problem: "is not valid YAML: \(error)", fix: "correct the YAML syntax at the position given")
        }
        var domains: [EnvoyRateLimitRules.Domain] = []
        for (index, document) in documents.enumerated() {
            let path = documents.count == 1 ? file : "\(file)[document \(index + 1)]"
            let domain = try parseDomain(document, path: path)
            if domains.contains(where: { $0.name == domain.name }) {
                throw ConfigError(field: "\(path).domain", problem: "\"\(domain.name)\" is described twice", fix: "merge the two documents into one")
            }
            domains.append(domain)
        }
        guard !domains.isEmpty else {
            throw ConfigError(field: file, problem: "describes no domain", fix: "write `domain:` and `descriptors:` as for envoyproxy/ratelimit")
        }
        return EnvoyRateLimitRules(domains: domains)
    }

    private static func parseDomain(_ node: Yams.Node, path: String) throws(ConfigError) -> EnvoyRateLimitRules.Domain {
        let fields = try mapping(node, path: path, known: ["domain", "descriptors"])
        guard let name = fields["domain"]?.string, !name.isEmpty else {
            throw ConfigError(field: "\(path).domain", problem: "is missing or empty", fix: "name the domain Envoy's rate limit filter sends")
        }
        let rules = try parseRules(fields["descriptors"], path: "\(path).descriptors")
        return EnvoyRateLimitRules.Domain(name: name, rules: rules)
    }

    private static func parseRules(_ node: Yams.Node?, path: String) throws(ConfigError) -> [EnvoyRateLimitRules.Rule] {
        guard let node else { return [] }
        guard let items = node.sequence else { throw ConfigError(field: path, problem: "is not a list", fix: "write a list of descriptors (- key: …)") }
        var rules: [EnvoyRateLimitRules.Rule] = []
        for (index, item) in items.enumerated() {
            let rule = try parseRule(item, path: "\(path)[\(index)]")
            if rules.contains(where: { $0.key == rule.key && $0.value == rule.value }) {
                throw ConfigError(
                    field: "\(path)[\(index)]", problem: "repeats key \"\(rule.key)\" with the same value",
                    fix: "keep one descriptor per key and value at each level")
            }
            rules.append(rule)
        }
        return rules
    }

    private static func parseRule(_ node: Yams.Node, path: String) throws(ConfigError) -> EnvoyRateLimitRules.Rule {
        let fields = try mapping(
            node, path: path, known: ["key", "value", "rate_limit", "unlimited", "shadow_mode", "replaces", "detailed_metric", "descriptors"])
        guard let key = fields["key"]?.string, !key.isEmpty else {
            throw ConfigError(field: "\(path).key", problem: "is missing or empty", fix: "give the descriptor key this level matches")
        }
        var rule = EnvoyRateLimitRules.Rule(key: key, value: try string(fields["value"], path: "\(path).value"))
        rule.unlimited = try bool(fields["unlimited"], path: "\(path).unlimited")
        rule.shadowMode = try bool(fields["shadow_mode"], path: "\(path).shadow_mode")
        _ = try bool(fields["detailed_metric"], path: "\(path).detailed_metric")
        if let limitNode = fields["rate_limit"] {
            rule.limit = try parseLimit(limitNode, path: "\(path).rate_limit")
        }
        if rule.unlimited, rule.limit != nil {
            throw ConfigError(field: "\(path).unlimited", problem: "is true next to a rate_limit", fix: "keep one of unlimited and rate_limit")
        }
        if let replacesNode = fields["replaces"] {
            guard let items = replacesNode.sequence else {
                throw ConfigError(field: "\(path).replaces", problem: "is not a list", fix: "write replaces: [{name: other_limit}]")
            }
            for (index, item) in items.enumerated() {
                let entry = try mapping(item, path: "\(path).replaces[\(index)]", known: ["name"])
                guard let name = entry["name"]?.string, !name.isEmpty else {
                    throw ConfigError(field: "\(path).replaces[\(index)].name", problem: "is missing", fix: "name the rate_limit this one replaces")
                }
                rule.replaces.append(name)
            }
        }
        rule.children = try parseRules(fields["descriptors"], path: "\(path).descriptors")
        return rule
    }

    private static func parseLimit(_ node: Yams.Node, path: String) throws(ConfigError) -> EnvoyRateLimitRules.Limit {
        let fields = try mapping(node, path: path, known: ["unit", "requests_per_unit", "name"])
        let units = RateLimitUnit.allCases.map(\.rawValue).joined(separator: ", ")
        guard let unitText = fields["unit"]?.string, let unit = RateLimitUnit(rawValue: unitText.lowercased()) else {
            throw ConfigError(field: "\(path).unit", problem: "is missing or not a unit", fix: "write one of \(units)")
        }
        guard let count = fields["requests_per_unit"]?.int, let requests = UInt32(exactly: count) else {
            throw ConfigError(field: "\(path).requests_per_unit", problem: "is missing or not a count", fix: "write a whole number from 0 to \(UInt32.max)")
        }
        return EnvoyRateLimitRules.Limit(unit: unit, requestsPerUnit: requests, name: try string(fields["name"], path: "\(path).name"))
    }

    private static func mapping(_ node: Yams.Node, path: String, known: Set<String>) throws(ConfigError) -> [String: Yams.Node] {
        guard let mapping = node.mapping else { throw ConfigError(field: path, problem: "is not a mapping", fix: "write field: value pairs here") }
        var fields: [String: Yams.Node] = [:]
        for (key, value) in mapping {
            let name = key.string ?? "?"
            guard known.contains(name) else {
                throw ConfigError(field: "\(path).\(name)", problem: "is not a known field", fix: "known here: \(known.sorted().joined(separator: ", "))")
            }
            fields[name] = value
        }
        return fields
    }

    private static func string(_ node: Yams.Node?, path: String) throws(ConfigError) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else { throw ConfigError(field: path, problem: "is not a string", fix: "write a plain value") }
        return scalar.string
    }

    private static func bool(_ node: Yams.Node?, path: String) throws(ConfigError) -> Bool {
        guard let node else { return false }
        guard let value = node.bool else { throw ConfigError(field: path, problem: "is not true or false", fix: "write true or false") }
        return value
    }
}
