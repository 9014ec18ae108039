/// Rate-limit rules in the shape envoyproxy/ratelimit users write: per domain, a tree of
/// descriptor entries (`key`, optional `value`) whose leaves carry a `rate_limit`.
///
/// A request descriptor `[(k1, v1), (k2, v2)]` walks the tree one entry a level; at each
/// level the rule with that key and exactly that value wins, then one whose value ends in
/// `*` and prefixes it, then one with the key and no value (any value, each counted apart).
/// The rule reached by the last entry gives the limit; a descriptor that leaves the tree
/// early, or ends on a rule without a limit, is not limited.
public struct EnvoyRateLimitRules: Sendable, Equatable {
    public var domains: [String: Domain]

    public init(domains: [Domain]) {
        self.domains = Dictionary(domains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public struct Domain: Sendable, Equatable {
        public var name: String
        public var rules: [Rule]

        public init(name: String, rules: [Rule]) {
            self.name = name
            self.rules = rules
        }
    }

    public struct Rule: Sendable, Equatable {
        public var key: String
        /// `nil`: any value; ending in `*`: any value with that prefix.
        public var value: String?
        public var limit: Limit?
        /// Matches, is counted nowhere and never refuses (`unlimited: true`).
        public var unlimited: Bool
        /// Counted, and reported, but never refuses (`shadow_mode: true`).
        public var shadowMode: Bool
        /// Names of limits this one stands in for: when a request's descriptors reach both,
        /// the named ones are neither counted nor reported (`replaces: [{name: …}]`).
        public var replaces: [String]
        public var children: [Rule]

        public init(
            key: String, value: String? = nil, limit: Limit? = nil, unlimited: Bool = false, shadowMode: Bool = false,
            replaces: [String] = [], children: [Rule] = []
        ) {
            self.key = key
            self.value = value
            self.limit = limit
            self.unlimited = unlimited
            self.shadowMode = shadowMode
            self.replaces = replaces
            self.children = children
        }
    }

    public struct Limit: Sendable, Equatable {
        public var unit: RateLimitUnit
        public var requestsPerUnit: UInt32
        /// The limit's `name`, which other rules' `replaces` refer to.
        public var name: String?

        public init(unit: RateLimitUnit, requestsPerUnit: UInt32, name: String? = nil) {
            self.unit = unit
            self.requestsPerUnit = requestsPerUnit
            self.name = name
        }
    }

    /// The rule a descriptor's entries reach in `domain`, or `nil` when none gives a limit.
    public func rule(domain: String, entries: [DescriptorEntry]) -> Rule? {
        guard var level = domains[domain]?.rules[...], !entries.isEmpty else { return nil }
        for (index, entry) in entries.enumerated() {
            guard let next = Self.match(entry, in: level) else { return nil }
            if index == entries.count - 1 { return next.limit != nil || next.unlimited ? next : nil }
            guard !next.children.isEmpty else { return nil }
            level = next.children[...]
        }
        return nil
    }

    private static func match(_ entry: DescriptorEntry, in rules: ArraySlice<Rule>) -> Rule? {
        let sameKey = rules.filter { $0.key == entry.key }
        if let exact = sameKey.first(where: { $0.value == entry.value }) { return exact }
        if let prefixed = sameKey.first(where: { rule in
            guard let value = rule.value, value.hasSuffix("*") else { return false }
            return entry.value.hasPrefix(value.dropLast())
        }) {
            return prefixed
        }
        return sameKey.first { $0.value == nil }
    }
}

/// One `key=value` pair of an Envoy rate-limit descriptor.
public struct DescriptorEntry: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// The units of Envoy's `RateLimitResponse.RateLimit.Unit`; each is one sliding window.
public enum RateLimitUnit: String, Sendable, CaseIterable {
    case second, minute, hour, day, week, month, year

    /// The window: a month is 30 days and a year 365, as envoyproxy/ratelimit counts them.
    public var windowMs: Int64 {
        switch self {
        case .second: 1_000
        case .minute: 60_000
        case .hour: 3_600_000
        case .day: 86_400_000
        case .week: 7 * 86_400_000
        case .month: 30 * 86_400_000
        case .year: 365 * 86_400_000
        }
    }
}
