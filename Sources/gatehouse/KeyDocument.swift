import Foundation

/// A key record as the admin API answers it (`Key` in `openapi.yaml`), typed for display:
/// the untyped JSON of `JSONSerialization` cannot tell `true` from `1` on Linux, and its
/// dictionaries have no stable order.
struct KeyDocument: Decodable, Equatable {
    struct Limit: Decodable, Equatable {
        var name: String
        var limit: Int64
        var windowMs: Int64
        var strict: Bool?
    }

    struct Refill: Decodable, Equatable {
        var amount: Int64
        var interval: String
    }

    struct RetiredSecret: Decodable, Equatable {
        var start: String
        var validUntil: String
    }

    var id: String
    /// The secret: only in the answers to create and rotate.
    var key: String?
    var start: String
    var name: String
    var owner: String
    var scopes: [String]
    var enabled: Bool
    var limits: [Limit]
    var credits: Int64?
    var refill: Refill?
    var meta: [String: String]
    var version: String
    var createdAt: String
    var expiresAt: String?
    var revokedAt: String?
    var lastUsedAt: String?
    var retiredSecrets: [RetiredSecret]

    /// A page of `GET /v1/keys`.
    struct Page: Decodable, Equatable {
        var keys: [KeyDocument]
        var nextCursor: String?
    }
}
