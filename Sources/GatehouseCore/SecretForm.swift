/// How a key's lookup hash was made from its secret, and so how a presented key must be
/// hashed to find it.
///
/// Keys Gatehouse issues are `native`. The other two come from bulk import, for teams that
/// move keys issued by another system without asking their users for new ones: the caller's
/// own key strings (`foreign`: any shape, hashed like a native key) or only the SHA-256 the
/// other system kept (`sha256`: the plaintext was never seen, so there is no pepper in it).
public enum SecretForm: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// `APIKeyFormat`, looked up by `HMAC-SHA256(pepper, key)`.
    case native = 0
    /// Another format, looked up by `HMAC-SHA256(pepper, key)` like a native key.
    case foreign = 1
    /// Looked up by `SHA-256(key)`, the hash another system kept.
    case sha256 = 2

    public var description: String {
        switch self {
        case .native: "native"
        case .foreign: "foreign"
        case .sha256: "sha256"
        }
    }

    public init?(name: String) {
        guard let form = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = form
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let form = SecretForm(name: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown secret form \(name)"))
        }
        self = form
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
