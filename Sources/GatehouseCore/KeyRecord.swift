/// One named sliding-window limit of a key, e.g. 1000 per hour.
public struct RateLimit: Hashable, Sendable, Codable {
    public var name: String
    public var limit: Int64
    public var windowMs: Int64
    /// In a cluster, never admit more than `limit` even when every node is hit at once
    /// (at the price of possibly refusing early); otherwise at most 2 % more, or one request per node for small limits (`WindowShare`).
    public var strict: Bool

    public init(name: String, limit: Int64, windowMs: Int64, strict: Bool = false) {
        self.name = name
        self.limit = limit
        self.windowMs = windowMs
        self.strict = strict
    }

    enum CodingKeys: String, CodingKey {
        case name, limit, strict
        case windowMs = "window_ms"
    }

    /// `strict` is optional on input (false when absent) and always present on output.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        limit = try container.decode(Int64.self, forKey: .limit)
        windowMs = try container.decode(Int64.self, forKey: .windowMs)
        strict = try container.decodeIfPresent(Bool.self, forKey: .strict) ?? false
    }

    /// The seed default for keys created without limits: 1000 per hour.
    public static let defaultHourly = RateLimit(name: "hour", limit: 1000, windowMs: 3_600_000)
}

/// A secret replaced by rotation that still verifies until `validUntil`.
public struct RetiredSecret: Hashable, Sendable, Codable {
    public var lookup: LookupHash
    public var start: String
    public var validUntil: Int64
    /// How `lookup` was made: a rotated-out imported secret keeps its form for its grace.
    public var form: SecretForm

    public init(lookup: LookupHash, start: String, validUntil: Int64, form: SecretForm = .native) {
        self.lookup = lookup
        self.start = start
        self.validUntil = validUntil
        self.form = form
    }

    enum CodingKeys: String, CodingKey {
        case lookup, start, form
        case validUntil = "valid_until"
    }

    /// Secrets stored before imports have no `form`: native.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lookup = try container.decode(LookupHash.self, forKey: .lookup)
        start = try container.decode(String.self, forKey: .start)
        validUntil = try container.decode(Int64.self, forKey: .validUntil)
        form = try container.decodeIfPresent(SecretForm.self, forKey: .form) ?? .native
    }

    /// `form` only when it is not native, so records without imports store as before.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(lookup, forKey: .lookup)
        try container.encode(start, forKey: .start)
        try container.encode(validUntil, forKey: .validUntil)
        if form != .native { try container.encode(form, forKey: .form) }
    }
}

/// Everything known about one API key. The secret itself is never part of it.
///
/// Times are Unix milliseconds. `version` orders writes across the cluster, but replicas
/// merge by `precedence` (see `RecordPrecedence`): a revoke or a rotation is never undone
/// by a later write made without knowledge of it.
public struct KeyRecord: Hashable, Sendable, Codable {
    public var id: String
    public var lookup: LookupHash
    public var start: String
    public var name: String
    public var owner: String
    public var scopes: [String]
    public var enabled: Bool
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var limits: [RateLimit]
    /// The usage quota as last set; what is left is this minus the usage counted since.
    public var credits: Int64?
    /// The write that last set `credits`; usage is counted per setting, so a new quota starts fresh.
    public var creditsSetAt: HybridTimestamp?
    /// Credits that come back every UTC day or month (`CreditRefill`); needs `credits`.
    public var refill: CreditRefill?
    public var meta: [String: String]
    public var revokedAt: Int64?
    public var lastUsedAt: Int64?
    public var retiredSecrets: [RetiredSecret]
    public var version: HybridTimestamp
    /// How many times the secret was rotated: a write made on an older generation (by a
    /// node that had not heard of the rotation) loses to the rotated record.
    public var secretGeneration: UInt32
    /// The members that share the key's credits and strict limits (`EscrowHoldings`): the
    /// live membership of the node that created the key or last set its credits, sorted.
    /// Empty in records written before escrow: the members live when the escrow is first
    /// needed share it then.
    public var holders: [String]
    /// How `lookup` was made from the secret (imported keys may be `foreign` or `sha256`).
    public var secretForm: SecretForm

    public init(
        id: String, lookup: LookupHash, start: String, name: String, owner: String,
        scopes: [String], enabled: Bool, createdAt: Int64, expiresAt: Int64?, limits: [RateLimit],
        credits: Int64?, creditsSetAt: HybridTimestamp?, meta: [String: String], revokedAt: Int64?,
        lastUsedAt: Int64?, retiredSecrets: [RetiredSecret], version: HybridTimestamp, secretGeneration: UInt32 = 0,
        holders: [String] = [], refill: CreditRefill? = nil, secretForm: SecretForm = .native
    ) {
        self.secretForm = secretForm
        self.id = id
        self.lookup = lookup
        self.start = start
        self.name = name
        self.owner = owner
        self.scopes = scopes
        self.enabled = enabled
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.limits = limits
        self.credits = credits
        self.creditsSetAt = creditsSetAt
        self.meta = meta
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.retiredSecrets = retiredSecrets
        self.version = version
        self.secretGeneration = secretGeneration
        self.holders = holders
        self.refill = refill
    }

    enum CodingKeys: String, CodingKey {
        case id, lookup, start, name, owner, scopes, enabled, limits, credits, meta, version, holders, refill
        case secretGeneration = "secret_generation"
        case secretForm = "secret_form"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case creditsSetAt = "credits_set_at"
        case revokedAt = "revoked_at"
        case lastUsedAt = "last_used_at"
        case retiredSecrets = "retired_secrets"
    }

    /// Records stored before rotations were counted have no `secret_generation`: 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        lookup = try container.decode(LookupHash.self, forKey: .lookup)
        start = try container.decode(String.self, forKey: .start)
        name = try container.decode(String.self, forKey: .name)
        owner = try container.decode(String.self, forKey: .owner)
        scopes = try container.decode([String].self, forKey: .scopes)
        enabled = try container.decode(Bool.self, forKey: .enabled)
        createdAt = try container.decode(Int64.self, forKey: .createdAt)
        expiresAt = try container.decodeIfPresent(Int64.self, forKey: .expiresAt)
        limits = try container.decode([RateLimit].self, forKey: .limits)
        credits = try container.decodeIfPresent(Int64.self, forKey: .credits)
        creditsSetAt = try container.decodeIfPresent(HybridTimestamp.self, forKey: .creditsSetAt)
        meta = try container.decode([String: String].self, forKey: .meta)
        revokedAt = try container.decodeIfPresent(Int64.self, forKey: .revokedAt)
        lastUsedAt = try container.decodeIfPresent(Int64.self, forKey: .lastUsedAt)
        retiredSecrets = try container.decode([RetiredSecret].self, forKey: .retiredSecrets)
        version = try container.decode(HybridTimestamp.self, forKey: .version)
        secretGeneration = try container.decodeIfPresent(UInt32.self, forKey: .secretGeneration) ?? 0
        holders = try container.decodeIfPresent([String].self, forKey: .holders) ?? []
        refill = try container.decodeIfPresent(CreditRefill.self, forKey: .refill)
        secretForm = try container.decodeIfPresent(SecretForm.self, forKey: .secretForm) ?? .native
    }

    /// Optional fields only when set, and `secret_form` only when not native: records of
    /// native keys store exactly as they did before imports.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(lookup, forKey: .lookup)
        try container.encode(start, forKey: .start)
        try container.encode(name, forKey: .name)
        try container.encode(owner, forKey: .owner)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(enabled, forKey: .enabled)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(expiresAt, forKey: .expiresAt)
        try container.encode(limits, forKey: .limits)
        try container.encodeIfPresent(credits, forKey: .credits)
        try container.encodeIfPresent(creditsSetAt, forKey: .creditsSetAt)
        try container.encode(meta, forKey: .meta)
        try container.encodeIfPresent(revokedAt, forKey: .revokedAt)
        try container.encodeIfPresent(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(retiredSecrets, forKey: .retiredSecrets)
        try container.encode(version, forKey: .version)
        try container.encode(secretGeneration, forKey: .secretGeneration)
        try container.encode(holders, forKey: .holders)
        try container.encodeIfPresent(refill, forKey: .refill)
        if secretForm != .native { try container.encode(secretForm, forKey: .secretForm) }
    }

    public var isRevoked: Bool { revokedAt != nil }

    /// Where this record stands in the merge order of its key's versions.
    public var precedence: RecordPrecedence {
        RecordPrecedence(revoked: isRevoked, secretGeneration: secretGeneration, version: version)
    }
}

extension LookupHash: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = LookupHash(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not 64 hex digits"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
