/// What a gateway passes along with a key.
public struct VerifyRequest: Sendable {
    /// Scopes the request needs; all must be granted.
    public var scopes: [String]
    /// Units the request counts against every limit and the credits (default 1).
    public var cost: Int64
    /// The caller's source, for the failed-attempt throttle; `nil` skips that check.
    public var source: SourceIdentity?
    /// Whether the answer carries the record's `keyID`, `owner`, `scopes` and `meta`. A
    /// caller that will not read them (a RESP reply of only the verdict) sets it to `false`
    /// and saves copying them out of the index (reference counts shared by every thread).
    /// The decision, and what it counts, is the same either way.
    public var includesRecord = true

    public init(scopes: [String] = [], cost: Int64 = 1, source: SourceIdentity? = nil) {
        self.scopes = scopes
        self.cost = cost
        self.source = source
    }
}

/// The answer to a verify. Fields after `code` are empty when the key was not found.
public struct VerifyAnswer: Sendable, Hashable {
    public var code: VerifyCode
    public var keyID: String?
    public var owner: String?
    public var scopes: [String]
    public var meta: [String: String]
    /// The tightest limit: the refusing one when rate limited, otherwise the one with the
    /// least left. `nil` when the key has no limits.
    public var limit: Int64?
    public var remaining: Int64?
    public var resetMs: Int64?
    public var retryAfterMs: Int64?
    /// Credits left after this request, for keys with a usage quota.
    public var creditsRemaining: Int64?

    public init(code: VerifyCode) {
        self.code = code
        scopes = []
        meta = [:]
    }

    public var valid: Bool { code == .valid }
}

/// The answer to a `THROTTLE`.
public struct ThrottleAnswer: Sendable, Hashable {
    public var allowed: Bool
    public var limit: Int64
    public var remaining: Int64
    public var resetMs: Int64
    public var retryAfterMs: Int64
    /// Whether the table of buckets was full and another bucket, the least recently used,
    /// was forgotten to count this one (see `ThrottleBuckets`).
    public var evicted: Bool

    public init(_ check: SlidingWindow.Check, evicted: Bool = false) {
        allowed = check.allowed
        limit = check.limit
        remaining = check.remaining
        resetMs = check.resetMs
        retryAfterMs = check.retryAfterMs
        self.evicted = evicted
    }
}
