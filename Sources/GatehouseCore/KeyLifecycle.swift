/// What a caller asks for when creating a key. `limits == nil` means "the configured default".
public struct KeyDraft: Sendable, Hashable {
    public var prefix: String
    public var name: String
    public var owner: String
    public var scopes: [String]
    public var limits: [RateLimit]?
    public var expiresAt: Int64?
    public var credits: Int64?
    public var refill: CreditRefill?
    public var meta: [String: String]
    public var enabled: Bool

    public init(
        prefix: String = APIKeyFormat.defaultPrefix, name: String = "", owner: String = "", scopes: [String] = [],
        limits: [RateLimit]? = nil, expiresAt: Int64? = nil, credits: Int64? = nil, refill: CreditRefill? = nil,
        meta: [String: String] = [:], enabled: Bool = true
    ) {
        self.refill = refill
        self.prefix = prefix
        self.name = name
        self.owner = owner
        self.scopes = scopes
        self.limits = limits
        self.expiresAt = expiresAt
        self.credits = credits
        self.meta = meta
        self.enabled = enabled
    }
}

/// A change to an optional field: leave it, set it, or remove it.
public enum FieldChange<Value: Sendable & Hashable>: Sendable, Hashable {
    case keep
    case set(Value)
    case clear
}

/// A partial update; `nil` / `.keep` leaves a field as it is.
public struct KeyChanges: Sendable, Hashable {
    public var name: String?
    public var owner: String?
    public var scopes: [String]?
    public var limits: [RateLimit]?
    public var expiresAt: FieldChange<Int64>
    public var credits: FieldChange<Int64>
    /// Changing the refill applies from the next period; a key already in a refilled period
    /// has its credits refilled to the new amount at once.
    public var refill: FieldChange<CreditRefill>
    public var meta: [String: String]?
    public var enabled: Bool?

    public init(
        name: String? = nil, owner: String? = nil, scopes: [String]? = nil, limits: [RateLimit]? = nil,
        expiresAt: FieldChange<Int64> = .keep, credits: FieldChange<Int64> = .keep, refill: FieldChange<CreditRefill> = .keep,
        meta: [String: String]? = nil, enabled: Bool? = nil
    ) {
        self.refill = refill
        self.name = name
        self.owner = owner
        self.scopes = scopes
        self.limits = limits
        self.expiresAt = expiresAt
        self.credits = credits
        self.meta = meta
        self.enabled = enabled
    }
}

/// The key lifecycle as pure functions: each takes the time, a version and randomness from
/// the caller and returns the new record (and, where there is one, the new secret).
public enum KeyLifecycle {
    public static let idPrefix = "key_"
    public static let idRandomLength = 22

    public static func makeID(using generator: inout some RandomNumberGenerator) -> String {
        idPrefix + String(decoding: Base62.random(count: idRandomLength, using: &generator), as: UTF8.self)
    }

    /// A new key. The returned secret is shown once and never stored.
    public static func create(
        _ draft: KeyDraft, defaultLimits: [RateLimit], hasher: LookupHasher, nowMs: Int64,
        version: HybridTimestamp, using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> (record: KeyRecord, secret: String) {
        let (draft, limits) = try validated(draft, defaultLimits: defaultLimits, nowMs: nowMs)
        let secret = APIKeyFormat.generate(prefix: draft.prefix, using: &generator)
        let record = newRecord(
            draft, limits: limits, lookup: hasher.hash(secret), start: APIKeyFormat.displayStart(of: secret), form: .native,
            nowMs: nowMs, version: version, using: &generator)
        return (record, secret)
    }

    /// The draft checked field by field, with the default limits filled in and a refill's
    /// first quota set: what `create` and `importKey` build a record from.
    static func validated(_ draft: KeyDraft, defaultLimits: [RateLimit], nowMs: Int64) throws(KeyError) -> (KeyDraft, [RateLimit]) {
        guard APIKeyFormat.isValidPrefix(draft.prefix) else {
            throw .invalid("prefix", "must be 1 to 16 of [a-z0-9], like \"gk\" or \"acme\"")
        }
        let limits = draft.limits ?? defaultLimits
        try KeyRules.validateName(draft.name)
        try KeyRules.validateOwner(draft.owner)
        try KeyRules.validateScopes(draft.scopes)
        try KeyRules.validateLimits(limits)
        var draft = draft
        // A refill without credits starts full: the first period's quota is the refill amount.
        if let refill = draft.refill, draft.credits == nil { draft.credits = refill.amount }
        try KeyRules.validateCredits(draft.credits)
        try KeyRules.validateRefill(draft.refill, credits: draft.credits)
        try KeyRules.validateMeta(draft.meta)
        try KeyRules.validateExpiry(draft.expiresAt, nowMs: nowMs)
        return (draft, limits)
    }

    static func newRecord(
        _ draft: KeyDraft, limits: [RateLimit], lookup: LookupHash, start: String, form: SecretForm, nowMs: Int64,
        version: HybridTimestamp, using generator: inout some RandomNumberGenerator
    ) -> KeyRecord {
        KeyRecord(
            id: makeID(using: &generator), lookup: lookup, start: start,
            name: draft.name, owner: draft.owner, scopes: draft.scopes, enabled: draft.enabled, createdAt: nowMs,
            expiresAt: draft.expiresAt, limits: limits, credits: draft.credits,
            creditsSetAt: draft.credits == nil ? nil : version, meta: draft.meta, revokedAt: nil,
            lastUsedAt: nil, retiredSecrets: [], version: version, refill: draft.refill, secretForm: form
        )
    }

    public static func update(
        _ record: KeyRecord, with changes: KeyChanges, nowMs: Int64, version: HybridTimestamp
    ) throws(KeyError) -> KeyRecord {
        guard !record.isRevoked else {
            throw KeyError(.revoked, "key \(record.id) is revoked and cannot change; create a new key")
        }
        var next = record
        if let name = changes.name {
            try KeyRules.validateName(name)
            next.name = name
        }
        if let owner = changes.owner {
            try KeyRules.validateOwner(owner)
            next.owner = owner
        }
        if let scopes = changes.scopes {
            try KeyRules.validateScopes(scopes)
            next.scopes = scopes
        }
        if let limits = changes.limits {
            try KeyRules.validateLimits(limits)
            next.limits = limits
        }
        switch changes.expiresAt {
        case .keep: break
        case .clear: next.expiresAt = nil
        case .set(let expiresAt):
            try KeyRules.validateExpiry(expiresAt, nowMs: nowMs)
            next.expiresAt = expiresAt
        }
        switch changes.credits {
        case .keep: break
        case .clear:
            next.credits = nil
            next.creditsSetAt = nil
        case .set(let credits):
            try KeyRules.validateCredits(credits)
            next.credits = credits
            next.creditsSetAt = version
        }
        switch changes.refill {
        case .keep: break
        case .clear: next.refill = nil
        case .set(let refill): next.refill = refill
        }
        // Clearing the credits clears their refill; a refill set on a key without credits (or
        // with them cleared in the same change) starts full, at the refill amount.
        if case .clear = changes.credits, case .keep = changes.refill { next.refill = nil }
        if let refill = next.refill, next.credits == nil {
            next.credits = refill.amount
            next.creditsSetAt = version
        }
        try KeyRules.validateRefill(next.refill, credits: next.credits)
        if let meta = changes.meta {
            try KeyRules.validateMeta(meta)
            next.meta = meta
        }
        if let enabled = changes.enabled { next.enabled = enabled }
        // A change that changes nothing is not a write: no new version to replicate.
        if next == record { return record }
        next.version = version
        return next
    }

    /// Revokes for good. Revoking a revoked key changes nothing and returns it as it is.
    public static func revoke(_ record: KeyRecord, nowMs: Int64, version: HybridTimestamp) -> KeyRecord {
        guard !record.isRevoked else { return record }
        var next = record
        next.revokedAt = nowMs
        next.version = version
        return next
    }

    /// A new secret for the same key; the current one keeps working for `graceMs`.
    public static func rotate(
        _ record: KeyRecord, graceMs: Int64, hasher: LookupHasher, nowMs: Int64, version: HybridTimestamp,
        using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> (record: KeyRecord, secret: String) {
        guard !record.isRevoked else {
            throw KeyError(.revoked, "key \(record.id) is revoked and cannot be rotated; create a new key")
        }
        try KeyRules.validateGrace(graceMs)
        let prefix = record.start.split(separator: "_").first.map(String.init) ?? APIKeyFormat.defaultPrefix
        let secret = APIKeyFormat.generate(prefix: APIKeyFormat.isValidPrefix(prefix) ? prefix : APIKeyFormat.defaultPrefix, using: &generator)
        var next = record
        var retired = record.retiredSecrets.filter { $0.validUntil > nowMs }
        if graceMs > 0 {
            retired.append(RetiredSecret(lookup: record.lookup, start: record.start, validUntil: nowMs + graceMs, form: record.secretForm))
        }
        next.retiredSecrets = Array(retired.suffix(KeyRules.maxRetiredSecrets))
        next.lookup = hasher.hash(secret)
        next.secretForm = .native
        next.start = APIKeyFormat.displayStart(of: secret)
        // Saturates rather than wrap: a wrapped generation would lose to every older one.
        next.secretGeneration = record.secretGeneration == .max ? .max : record.secretGeneration + 1
        next.version = version
        return (next, secret)
    }
}
