import GatehouseCore
import GatehouseMembership

/// Decodes an RFC 3339 time field as Unix milliseconds, naming the field when it is not one.
private func decodeTime<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Int64 {
    let text = try container.decode(String.self, forKey: key)
    guard let ms = JSONTime.parse(text) else {
        throw APIError.invalid(key.stringValue, "is not an RFC 3339 time such as 2027-01-01T00:00:00Z")
    }
    return ms
}

/// `POST /v1/keys`.
struct CreateKeyBody: Decodable {
    var draft = KeyDraft()
    /// Whether the body chose a prefix; otherwise the node's configured default applies.
    var prefixGiven = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prefix, name, owner, scopes, limits, credits, refill, meta, enabled
        case expiresAt = "expires_at"
    }

    static let knownFields = CodingKeys.allCases.map(\.rawValue)

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        try container.rejectUnknownFields(Self.knownFields)
        try self.init(fields: container)
    }

    /// The fields of a create request, read from the container the caller made and checked
    /// for unknown fields (a bulk import line has a few more): one container per object, as
    /// making one is a good part of decoding an import's line.
    init(fields container: KeyedDecodingContainer<AnyCodingKey>) throws {
        func key(_ field: CodingKeys) -> AnyCodingKey { container.field(field.rawValue) }
        if let prefix = try container.decodeIfPresent(String.self, forKey: key(.prefix)) {
            draft.prefix = prefix
            prefixGiven = true
        }
        draft.name = try container.decodeIfPresent(String.self, forKey: key(.name)) ?? ""
        draft.owner = try container.decodeIfPresent(String.self, forKey: key(.owner)) ?? ""
        draft.scopes = try container.decodeIfPresent([String].self, forKey: key(.scopes)) ?? []
        draft.limits = try container.decodeIfPresent([RateLimitBody].self, forKey: key(.limits))?.map(\.limit)
        draft.credits = try container.decodeIfPresent(Int64.self, forKey: key(.credits))
        draft.refill = try container.decodeIfPresent(RefillBody.self, forKey: key(.refill))?.refill
        draft.meta = try container.decodeIfPresent([String: String].self, forKey: key(.meta)) ?? [:]
        draft.enabled = try container.decodeIfPresent(Bool.self, forKey: key(.enabled)) ?? true
        if try container.contains(key(.expiresAt)) && !container.decodeNil(forKey: key(.expiresAt)) {
            draft.expiresAt = try decodeTime(container, key(.expiresAt))
        }
    }
}

/// One element of `limits`: `{"name", "limit", "window_ms"}`, all required, and `strict`
/// (optional, false when absent: see `WindowShare`).
struct RateLimitBody: Decodable {
    var limit: RateLimit

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, limit, strict
        case windowMs = "window_ms"
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        limit = RateLimit(
            name: try container.decode(String.self, forKey: .name),
            limit: try container.decode(Int64.self, forKey: .limit),
            windowMs: try container.decode(Int64.self, forKey: .windowMs),
            strict: try container.decodeIfPresent(Bool.self, forKey: .strict) ?? false)
    }
}

/// `refill`: `{"amount", "interval"}`, both required; `interval` is `daily` or `monthly` (UTC).
struct RefillBody: Decodable {
    var refill: CreditRefill

    enum CodingKeys: String, CodingKey, CaseIterable {
        case amount, interval
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let amount = try container.decode(Int64.self, forKey: .amount)
        let text = try container.decode(String.self, forKey: .interval)
        guard let interval = CreditRefill.Interval(rawValue: text) else {
            throw APIError.invalid("refill.interval", "must be daily or monthly (refills at 00:00 UTC each day, or on the 1st of each month)")
        }
        refill = CreditRefill(amount: amount, interval: interval)
    }
}

/// `PATCH /v1/keys/{id}`: only the fields present change; `null` clears `expires_at`,
/// `credits` (and with them `refill`) or `refill`.
struct UpdateKeyBody: Decodable {
    var changes = KeyChanges()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, owner, scopes, limits, credits, refill, meta, enabled
        case expiresAt = "expires_at"
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        changes.name = try container.decodeIfPresent(String.self, forKey: .name)
        changes.owner = try container.decodeIfPresent(String.self, forKey: .owner)
        changes.scopes = try container.decodeIfPresent([String].self, forKey: .scopes)
        changes.limits = try container.decodeIfPresent([RateLimitBody].self, forKey: .limits)?.map(\.limit)
        changes.meta = try container.decodeIfPresent([String: String].self, forKey: .meta)
        changes.enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled)
        if container.contains(.expiresAt) {
            changes.expiresAt = try container.decodeNil(forKey: .expiresAt) ? .clear : .set(try decodeTime(container, .expiresAt))
        }
        if container.contains(.credits) {
            changes.credits = try container.decodeNil(forKey: .credits) ? .clear : .set(try container.decode(Int64.self, forKey: .credits))
        }
        if container.contains(.refill) {
            changes.refill = try container.decodeNil(forKey: .refill) ? .clear : .set(try container.decode(RefillBody.self, forKey: .refill).refill)
        }
    }
}

/// `POST /v1/keys/{id}/rotate`; the body may be empty.
struct RotateKeyBody: Decodable {
    var graceMs: Int64 = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case graceMs = "grace_ms"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        graceMs = try container.decodeIfPresent(Int64.self, forKey: .graceMs) ?? 0
    }
}

/// `POST /v1/verify`.
struct VerifyBody: Decodable {
    var key: String
    var scopes: [String]
    var cost: Int64
    var ip: String?
    var requestID: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case key, scopes, cost, ip
        case requestID = "request_id"
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        scopes = try container.decodeIfPresent([String].self, forKey: .scopes) ?? []
        cost = try container.decodeIfPresent(Int64.self, forKey: .cost) ?? 1
        ip = try container.decodeIfPresent(String.self, forKey: .ip)
        requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
    }
}

/// A key record as the API shows it; `key` (the secret) only in the answer that created it.
struct KeyView: Encodable {
    var record: KeyRecord
    var creditsRemaining: Int64?
    var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, key, start, name, owner, scopes, enabled, limits, credits, refill, meta, version
        case secretForm = "secret_form"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
        case lastUsedAt = "last_used_at"
        case retiredSecrets = "retired_secrets"
    }

    struct RetiredView: Encodable {
        var start: String
        var validUntil: String
        enum CodingKeys: String, CodingKey {
            case start
            case validUntil = "valid_until"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id, forKey: .id)
        if let secret { try container.encode(secret, forKey: .key) }
        try container.encode(record.start, forKey: .start)
        // Only for imported keys, so the answers for native keys stay as they were.
        if record.secretForm != .native { try container.encode(record.secretForm, forKey: .secretForm) }
        try container.encode(record.name, forKey: .name)
        try container.encode(record.owner, forKey: .owner)
        try container.encode(record.scopes, forKey: .scopes)
        try container.encode(record.enabled, forKey: .enabled)
        try container.encode(record.limits, forKey: .limits)
        try container.encode(creditsRemaining, forKey: .credits)
        try container.encode(record.refill, forKey: .refill)
        try container.encode(record.meta, forKey: .meta)
        try container.encode(record.version, forKey: .version)
        try container.encode(JSONTime.format(record.createdAt), forKey: .createdAt)
        try container.encode(record.expiresAt.map(JSONTime.format), forKey: .expiresAt)
        try container.encode(record.revokedAt.map(JSONTime.format), forKey: .revokedAt)
        try container.encode(record.lastUsedAt.map(JSONTime.format), forKey: .lastUsedAt)
        try container.encode(
            record.retiredSecrets.map { RetiredView(start: $0.start, validUntil: JSONTime.format($0.validUntil)) },
            forKey: .retiredSecrets)
    }
}

/// `GET /v1/keys`.
struct KeyListView: Encodable {
    var keys: [KeyView]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case keys
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keys, forKey: .keys)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// A verify answer in JSON, with the same field names as the RESP reply.
struct VerifyView: Encodable {
    var answer: VerifyAnswer

    enum CodingKeys: String, CodingKey {
        case valid, code, owner, scopes, meta, limit, remaining
        case keyID = "key_id"
        case resetMs = "reset_ms"
        case retryAfterMs = "retry_after_ms"
        case creditsRemaining = "credits_remaining"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(answer.valid, forKey: .valid)
        try container.encode(answer.code.rawValue, forKey: .code)
        try container.encode(answer.keyID, forKey: .keyID)
        try container.encode(answer.owner, forKey: .owner)
        try container.encode(answer.scopes, forKey: .scopes)
        try container.encode(answer.meta, forKey: .meta)
        try container.encode(answer.limit, forKey: .limit)
        try container.encode(answer.remaining, forKey: .remaining)
        try container.encode(answer.resetMs, forKey: .resetMs)
        try container.encode(answer.retryAfterMs, forKey: .retryAfterMs)
        try container.encode(answer.creditsRemaining, forKey: .creditsRemaining)
    }
}

/// `GET /v1/cluster/members`: this node's view of the cluster, itself first.
struct ClusterMembersView: Encodable {
    var nodeID: String
    var clustered: Bool
    var members: [Member]

    enum CodingKeys: String, CodingKey {
        case nodeID = "node_id"
        case clustered, members
    }

    struct MemberView: Encodable {
        var member: Member

        enum CodingKeys: String, CodingKey {
            case id, address, state, incarnation
            case lastChange = "last_change"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(member.id.name, forKey: .id)
            try container.encode(member.address.description, forKey: .address)
            try container.encode(member.status.description, forKey: .state)
            try container.encode(member.incarnation, forKey: .incarnation)
            try container.encode(member.lastChangeMs > 0 ? JSONTime.format(member.lastChangeMs) : nil, forKey: .lastChange)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nodeID, forKey: .nodeID)
        try container.encode(clustered, forKey: .clustered)
        try container.encode(members.map(MemberView.init), forKey: .members)
    }
}

/// `GET /v1/cluster/status`: what this node holds and how its replication is doing. Public
/// and decodable for the CLI, which reads the answer with this very type.
public struct ClusterStatusView: Codable, Sendable {
    public var nodeID: String
    public var clustered: Bool
    public var membersByState: [String: Int]
    public var memberCount: Int
    public var keyCount: Int
    /// Fingerprint of the key-record digest: equal on every node once replicas agree.
    public var keyDigest: String
    public var counterWindows: Int
    public var lastAntiEntropy: String?

    enum CodingKeys: String, CodingKey {
        case clustered
        case nodeID = "node_id"
        case membersByState = "members_by_state"
        case memberCount = "member_count"
        case keyCount = "key_count"
        case keyDigest = "key_digest"
        case counterWindows = "counter_windows"
        case lastAntiEntropy = "last_anti_entropy"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nodeID, forKey: .nodeID)
        try container.encode(clustered, forKey: .clustered)
        try container.encode(membersByState, forKey: .membersByState)
        try container.encode(memberCount, forKey: .memberCount)
        try container.encode(keyCount, forKey: .keyCount)
        try container.encode(keyDigest, forKey: .keyDigest)
        try container.encode(counterWindows, forKey: .counterWindows)
        try container.encode(lastAntiEntropy, forKey: .lastAntiEntropy)
    }
}
