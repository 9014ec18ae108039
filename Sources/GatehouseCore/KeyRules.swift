/// The limits every key record must respect, checked on every write before anything is stored.
public enum KeyRules {
    /// `name` and `owner` are for people and may be in any script: their limits count
    /// characters (Unicode scalars, as JSON Schema's `maxLength` does), not bytes.
    public static let maxNameCharacters = 256
    public static let maxOwnerCharacters = 256
    public static let maxScopes = 64
    /// Scopes are visible ASCII (like OAuth's scope tokens), so characters and bytes agree.
    public static let maxScopeBytes = 128
    public static let maxLimits = 16
    public static let maxLimitNameBytes = 64
    public static let maxWindowMs: Int64 = 366 * 24 * 3_600_000
    /// `meta` keys and values together, in UTF-8 bytes.
    public static let maxMetaBytes = 4096
    public static let maxRetiredSecrets = 4
    public static let maxGraceMs: Int64 = 30 * 24 * 3_600_000
    /// Members named in `holders`: the largest cluster we plan for.
    public static let maxHolders = 512
    /// Longest member name in `holders` (a node id).
    public static let maxHolderBytes = 128

    public static func validateName(_ name: String) throws(KeyError) {
        guard name.unicodeScalars.count <= maxNameCharacters else {
            throw .invalid("name", "is longer than \(maxNameCharacters) characters; shorten it")
        }
        guard !name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalid("name", "must not contain control characters")
        }
    }

    public static func validateOwner(_ owner: String) throws(KeyError) {
        guard owner.unicodeScalars.count <= maxOwnerCharacters else {
            throw .invalid("owner", "is longer than \(maxOwnerCharacters) characters; use a shorter account id")
        }
        // The owner travels in an HTTP header (`X-Gatehouse-Owner`) to the upstream.
        guard !owner.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalid("owner", "must not contain control characters")
        }
    }

    public static func validateScopes(_ scopes: [String]) throws(KeyError) {
        guard scopes.count <= maxScopes else {
            throw .invalid("scopes", "has \(scopes.count) entries; at most \(maxScopes) are allowed, use wildcards like \"orders:*\"")
        }
        for scope in scopes {
            guard !scope.isEmpty, scope.utf8.count <= maxScopeBytes else {
                throw .invalid("scopes", "entries must be 1 to \(maxScopeBytes) bytes")
            }
            guard scope.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw .invalid("scopes", "entries must be visible ASCII: no spaces, control or non-ASCII characters")
            }
            if let star = scope.firstIndex(of: "*"), scope.index(after: star) != scope.endIndex {
                throw .invalid("scopes", "a \"*\" is only allowed at the end of a scope, as in \"orders:*\"")
            }
        }
    }

    public static func validateLimits(_ limits: [RateLimit]) throws(KeyError) {
        guard limits.count <= maxLimits else {
            throw .invalid("limits", "has \(limits.count) entries; at most \(maxLimits) are allowed")
        }
        var names = Set<String>()
        for limit in limits {
            guard !limit.name.isEmpty, limit.name.utf8.count <= maxLimitNameBytes,
                limit.name.utf8.allSatisfy({ Base62.value(of: $0) != nil || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
            else {
                throw .invalid("limits", "a limit name must be 1 to \(maxLimitNameBytes) of [A-Za-z0-9_-]")
            }
            guard names.insert(limit.name).inserted else {
                throw .invalid("limits", "the limit name \"\(limit.name)\" appears twice; names must be unique")
            }
            guard limit.limit >= 1 else {
                throw .invalid("limits", "limit \"\(limit.name)\" must allow at least 1 request")
            }
            guard (1...maxWindowMs).contains(limit.windowMs) else {
                throw .invalid("limits", "window_ms of \"\(limit.name)\" must be between 1 and \(maxWindowMs)")
            }
        }
    }

    public static func validateCredits(_ credits: Int64?) throws(KeyError) {
        if let credits, credits < 0 {
            throw .invalid("credits", "must be 0 or more; leave it out for unlimited usage")
        }
    }

    /// A refill needs a quota to refill, and a non-negative amount.
    public static func validateRefill(_ refill: CreditRefill?, credits: Int64?) throws(KeyError) {
        guard let refill else { return }
        guard refill.amount >= 0 else { throw .invalid("refill.amount", "must be 0 or more") }
        guard credits != nil else { throw .invalid("refill", "needs credits: set `credits` (what is left until the first refill) too") }
    }

    public static func validateMeta(_ meta: [String: String]) throws(KeyError) {
        let bytes = meta.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= maxMetaBytes else {
            throw .invalid("meta", "holds \(bytes) bytes; keys and values together must stay within \(maxMetaBytes)")
        }
    }

    public static func validateExpiry(_ expiresAt: Int64?, nowMs: Int64) throws(KeyError) {
        if let expiresAt, expiresAt <= nowMs {
            throw .invalid("expires_at", "is in the past; give a future time or leave it out")
        }
    }

    /// Every content rule a stored record must meet (name, owner, scopes, limits, credits,
    /// meta): what a record from a peer is held to, as an admin write is.
    public static func validateContent(of record: KeyRecord) throws(KeyError) {
        try validateName(record.name)
        try validateOwner(record.owner)
        try validateScopes(record.scopes)
        try validateLimits(record.limits)
        try validateCredits(record.credits)
        try validateRefill(record.refill, credits: record.credits)
        try validateMeta(record.meta)
        try validateHolders(record.holders)
    }

    /// Holders are written by nodes, never by callers; a peer's must still be sane: at most
    /// `maxHolders` distinct, non-empty names of at most `maxHolderBytes`.
    public static func validateHolders(_ holders: [String]) throws(KeyError) {
        guard holders.count <= maxHolders, Set(holders).count == holders.count,
            holders.allSatisfy({ !$0.isEmpty && $0.utf8.count <= maxHolderBytes })
        else {
            throw .invalid("holders", "must be at most \(maxHolders) distinct member names of 1 to \(maxHolderBytes) bytes")
        }
    }

    public static func validateGrace(_ graceMs: Int64) throws(KeyError) {
        guard (0...maxGraceMs).contains(graceMs) else {
            throw .invalid("grace_ms", "must be between 0 and \(maxGraceMs) (30 days)")
        }
    }
}
