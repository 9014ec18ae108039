import GatehouseCore

/// What Envoy asks in `ShouldRateLimit`, as plain values.
public struct EnvoyRateLimitRequest: Sendable, Equatable {
    public var domain: String
    public var descriptors: [Descriptor]
    /// Hits every descriptor counts unless it says otherwise; Envoy sends 0 for 1.
    public var hitsAddend: UInt64

    public init(domain: String, descriptors: [Descriptor], hitsAddend: UInt64 = 0) {
        self.domain = domain
        self.descriptors = descriptors
        self.hitsAddend = hitsAddend
    }

    public struct Descriptor: Sendable, Equatable {
        public var entries: [DescriptorEntry]
        /// The descriptor's own `hits_addend`, which wins over the request's (0 checks
        /// without counting).
        public var hitsAddend: UInt64?

        public init(_ entries: [DescriptorEntry], hitsAddend: UInt64? = nil) {
            self.entries = entries
            self.hitsAddend = hitsAddend
        }
    }
}

/// A `ShouldRateLimit` request Gatehouse will not evaluate; Envoy gets `INVALID_ARGUMENT`.
public struct EnvoyRateLimitRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
}

/// Gatehouse's answer to `ShouldRateLimit`, as plain values.
public struct EnvoyRateLimitAnswer: Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case ok, overLimit
    }

    public struct Status: Sendable, Equatable {
        public var code: Code
        /// The limit that applied; `nil` when the descriptor matched none, or an unlimited rule.
        public var currentLimit: CurrentLimit?
        public var limitRemaining: UInt32
        public var durationUntilResetMs: Int64

        public init(code: Code, currentLimit: CurrentLimit?, limitRemaining: UInt32, durationUntilResetMs: Int64) {
            self.code = code
            self.currentLimit = currentLimit
            self.limitRemaining = limitRemaining
            self.durationUntilResetMs = durationUntilResetMs
        }
    }

    public struct CurrentLimit: Sendable, Equatable {
        public var requestsPerUnit: UInt32
        /// `nil` for an API key's own limit, whose window need not be one of Envoy's units.
        public var unit: RateLimitUnit?
        public var name: String?
        public var windowMs: Int64?

        public init(requestsPerUnit: UInt32, unit: RateLimitUnit?, name: String?, windowMs: Int64?) {
            self.requestsPerUnit = requestsPerUnit
            self.unit = unit
            self.name = name
            self.windowMs = windowMs
        }
    }

    public var overallCode: Code
    /// One per request descriptor, in the request's order.
    public var statuses: [Status]
    /// Headers for Envoy to add to the client's response (`response_headers_to_add`).
    public var responseHeaders: [(name: String, value: String)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.overallCode == rhs.overallCode && lhs.statuses == rhs.statuses
            && lhs.responseHeaders.map { [$0.name, $0.value] } == rhs.responseHeaders.map { [$0.name, $0.value] }
    }
}

/// Evaluates `ShouldRateLimit` requests against the rules. Pure: the caller passes how to
/// count a hit on a shared sliding window (`THROTTLE`'s path) and how to verify an API key.
public struct EnvoyRateLimitDecision: Sendable {
    public var rules: EnvoyRateLimitRules
    /// The descriptor key whose value is an API key: a descriptor of that one entry is
    /// counted against the key's own limits by a verify (default `gatehouse_api_key`).
    public var apiKeyDescriptor: String
    /// Whether answers carry `x-ratelimit-limit`, `-remaining` and `-reset` for the
    /// descriptor with the least left.
    public var responseHeaders: Bool

    public static let maxDescriptors = 64
    public static let maxEntries = 16
    /// A counter's name on the cluster's data plane carries at most 1,024 bytes.
    public static let maxBucketBytes = 1_000

    public init(rules: EnvoyRateLimitRules, apiKeyDescriptor: String = "gatehouse_api_key", responseHeaders: Bool = false) {
        self.rules = rules
        self.apiKeyDescriptor = apiKeyDescriptor
        self.responseHeaders = responseHeaders
    }

    /// A descriptor resolved to what counts it.
    private enum Target {
        case none
        case unlimited
        /// A rule and its limit, counted in `bucket`.
        case limited(EnvoyRateLimitRules.Rule, EnvoyRateLimitRules.Limit, bucket: String)
        case apiKey(String)
    }

    public func evaluate(
        _ request: EnvoyRateLimitRequest,
        count: (_ bucket: String, _ limit: Int64, _ windowMs: Int64, _ cost: Int64) -> ThrottleAnswer,
        verify: (_ key: String, _ cost: Int64) -> VerifyAnswer
    ) throws(EnvoyRateLimitRequestError) -> EnvoyRateLimitAnswer {
        guard !request.domain.isEmpty else { throw EnvoyRateLimitRequestError(description: "the domain is empty; set the rate limit filter's domain") }
        guard !request.descriptors.isEmpty else { throw EnvoyRateLimitRequestError(description: "the request has no descriptors") }
        guard request.descriptors.count <= Self.maxDescriptors else {
            throw EnvoyRateLimitRequestError(description: "more than \(Self.maxDescriptors) descriptors in one request")
        }
        let targets = try request.descriptors.map { descriptor throws(EnvoyRateLimitRequestError) in
            try target(of: descriptor, domain: request.domain)
        }
        let replaced = Set(targets.flatMap { target -> [String] in
            if case .limited(let rule, _, _) = target { return rule.replaces }
            return []
        })
        var statuses: [EnvoyRateLimitAnswer.Status] = []
        var gatehouseCode: VerifyCode?
        for (descriptor, target) in zip(request.descriptors, targets) {
            let hits = Int64(clamping: descriptor.hitsAddend ?? max(request.hitsAddend, 1))
            switch target {
            case .none, .unlimited:
                statuses.append(.init(code: .ok, currentLimit: nil, limitRemaining: 0, durationUntilResetMs: 0))
            case .limited(_, let limit, _) where limit.name.map(replaced.contains) == true:
                statuses.append(.init(code: .ok, currentLimit: nil, limitRemaining: 0, durationUntilResetMs: 0))
            case .limited(let rule, let limit, let bucket):
                let answer = count(bucket, Int64(limit.requestsPerUnit), limit.unit.windowMs, hits)
                statuses.append(.init(
                    code: answer.allowed || rule.shadowMode ? .ok : .overLimit,
                    currentLimit: .init(requestsPerUnit: limit.requestsPerUnit, unit: limit.unit, name: limit.name, windowMs: limit.unit.windowMs),
                    limitRemaining: UInt32(clamping: answer.remaining), durationUntilResetMs: answer.resetMs))
            case .apiKey(let key):
                let answer = verify(key, hits)
                if !answer.valid, gatehouseCode == nil { gatehouseCode = answer.code }
                statuses.append(.init(
                    code: answer.valid ? .ok : .overLimit,
                    currentLimit: answer.limit.map { .init(requestsPerUnit: UInt32(clamping: $0), unit: nil, name: answer.keyID, windowMs: nil) },
                    limitRemaining: UInt32(clamping: answer.remaining ?? 0), durationUntilResetMs: answer.resetMs ?? 0))
            }
        }
        let overall: EnvoyRateLimitAnswer.Code = statuses.contains { $0.code == .overLimit } ? .overLimit : .ok
        var headers: [(name: String, value: String)] = []
        if let gatehouseCode { headers.append((name: "x-gatehouse-code", value: gatehouseCode.rawValue)) }
        if responseHeaders { headers += rateLimitHeaders(statuses) }
        return EnvoyRateLimitAnswer(overallCode: overall, statuses: statuses, responseHeaders: headers)
    }

    private func target(of descriptor: EnvoyRateLimitRequest.Descriptor, domain: String) throws(EnvoyRateLimitRequestError) -> Target {
        let entries = descriptor.entries
        guard !entries.isEmpty else { throw EnvoyRateLimitRequestError(description: "a descriptor has no entries") }
        guard entries.count <= Self.maxEntries else {
            throw EnvoyRateLimitRequestError(description: "a descriptor has more than \(Self.maxEntries) entries")
        }
        if entries.count == 1, entries[0].key == apiKeyDescriptor { return .apiKey(entries[0].value) }
        guard let rule = rules.rule(domain: domain, entries: entries) else { return .none }
        if rule.unlimited { return .unlimited }
        guard let limit = rule.limit else { return .none }
        let bucket = Self.bucket(domain: domain, entries: entries)
        guard bucket.utf8.count <= Self.maxBucketBytes else {
            throw EnvoyRateLimitRequestError(description: "a descriptor's keys and values are longer than \(Self.maxBucketBytes) bytes together")
        }
        return .limited(rule, limit, bucket: bucket)
    }

    /// The shared counter's name: the domain and every entry, each length-prefixed so no two
    /// descriptors share one; each value of a key-only rule gets its own counter.
    static func bucket(domain: String, entries: [DescriptorEntry]) -> String {
        var name = "envoy:\(domain.utf8.count):\(domain)"
        for entry in entries {
            name += "\(entry.key.utf8.count):\(entry.key)\(entry.value.utf8.count):\(entry.value)"
        }
        return name
    }

    /// envoyproxy/ratelimit's headers (IETF RateLimit draft 03) for the limited descriptor
    /// with the least left.
    private func rateLimitHeaders(_ statuses: [EnvoyRateLimitAnswer.Status]) -> [(name: String, value: String)] {
        guard let tightest = statuses.filter({ $0.currentLimit != nil }).min(by: { $0.limitRemaining < $1.limitRemaining }),
            let limit = tightest.currentLimit
        else { return [] }
        var quota = String(limit.requestsPerUnit)
        if let windowMs = limit.windowMs { quota += ", \(limit.requestsPerUnit);w=\(windowMs / 1000)" }
        return [
            (name: "x-ratelimit-limit", value: quota),
            (name: "x-ratelimit-remaining", value: String(tightest.limitRemaining)),
            (name: "x-ratelimit-reset", value: String(ForwardAuthDecision.seconds(tightest.durationUntilResetMs))),
        ]
    }
}
