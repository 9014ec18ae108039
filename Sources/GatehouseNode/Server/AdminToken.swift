import GatehouseCore

/// One named admin token as `cluster.yaml` describes it (`admin_tokens:`): its name (the
/// actor in the audit trail and the logs), where its secret comes from, and its permissions.
/// The file never holds the secret itself.
public struct AdminTokenSpec: Hashable, Sendable {
    public enum Secret: Hashable, Sendable {
        /// The SHA-256 of the secret, as 32 bytes (`sha256:` in the file).
        case sha256([UInt8])
        /// The secret itself, read from the environment at start (`secret_env:`); only its
        /// hash is kept.
        case environment(variable: String, hash: [UInt8])
        /// Neither: generated on the node's first start, shown once, its hash kept in the
        /// data directory's secrets file.
        case generated
    }

    public var name: String
    public var secret: Secret
    public var permissions: Set<AdminPermission>

    public init(name: String, secret: Secret, permissions: Set<AdminPermission>) {
        self.name = name
        self.secret = secret
        self.permissions = permissions
    }

    /// The name of the admin token of old (`admin_token`), which has every permission.
    public static let legacyName = "admin"
}

/// An admin token as the node checks it: a name, the SHA-256 of the secret, permissions.
public struct AdminCredential: Hashable, Sendable {
    public var name: String
    public var secretHash: [UInt8]
    public var permissions: Set<AdminPermission>

    public init(name: String, secretHash: [UInt8], permissions: Set<AdminPermission>) {
        self.name = name
        self.secretHash = secretHash
        self.permissions = permissions
    }

    /// The token of `admin_token`: every permission, actor `admin`.
    public static func legacy(token: String) -> AdminCredential {
        AdminCredential(name: AdminTokenSpec.legacyName, secretHash: sha256(token), permissions: Set(AdminPermission.allCases))
    }

    public static func sha256(_ secret: String) -> [UInt8] {
        TokenDigest.sha256(secret.utf8)
    }

    /// 64 hex digits → 32 bytes; nil for anything else.
    public static func parseHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let alphabet = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [alphabet[Int($0 >> 4)], alphabet[Int($0 & 15)]] }, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
