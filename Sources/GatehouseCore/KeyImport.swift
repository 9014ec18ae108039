import Crypto

/// What bulk import is given as a key's secret.
public enum ImportedSecret: Sendable, Hashable {
    /// Nothing: a new native secret is generated with the draft's prefix and returned once.
    case generated
    /// The caller's own key string: native, or in another system's format (`ImportedKeyFormat`).
    case key(String)
    /// Only the SHA-256 another system kept of the key, and what to show of it (`start`, may
    /// be empty): the plaintext never reaches Gatehouse.
    case sha256(LookupHash, start: String)
}

/// The shapes an imported key string may have, and what of it is shown.
public enum ImportedKeyFormat {
    /// Shorter strings are too easy to guess to be worth keeping as keys.
    public static let minLength = 16
    public static let maxLength = 256
    /// What an imported key shows of itself (`start`) at most.
    public static let maxStartLength = 16

    /// Whether a presented or imported string could be a key of another system: 16 to 256
    /// visible ASCII characters (no spaces or control bytes). Without allocating.
    @inlinable
    public static func isPlausible(_ key: UnsafeRawBufferPointer) -> Bool {
        guard (minLength...maxLength).contains(key.count) else { return false }
        for byte in key where !(0x21...0x7E).contains(byte) { return false }
        return true
    }

    public static func isPlausible(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { isPlausible(UnsafeRawBufferPointer($0)) }
    }

    /// The start shown for a foreign key: a few characters, never more than an eighth of it
    /// (a 16-character key shows 2), so what an admin sees leaves most of a short key unknown.
    public static func displayStart(of key: String) -> String {
        String(decoding: key.utf8.prefix(min(6, key.utf8.count / 8)), as: UTF8.self)
    }

    /// `SHA-256(key)`: how a presented key is looked up among keys imported by hash.
    public static func sha256(_ key: UnsafeRawBufferPointer) -> LookupHash {
        SHA256.hash(data: KeyBytes(key)).withUnsafeBytes(LookupHash.init(digest:))
    }
}

extension KeyLifecycle {
    /// A key brought in by bulk import: a new one (`secret` `.generated`, returned once), the
    /// caller's own key string, or the SHA-256 another system kept of it. The fields are
    /// checked as for `create`; the returned secret is `nil` unless one was generated.
    /// An imported record made ahead of its write (in parallel, outside the writer's lock)
    /// takes the version its write is ordered at: the version, and the credits' epoch with it.
    public static func stamped(_ record: KeyRecord, version: HybridTimestamp) -> KeyRecord {
        var stamped = record
        stamped.version = version
        if stamped.credits != nil { stamped.creditsSetAt = version }
        return stamped
    }

    public static func importKey(
        _ draft: KeyDraft, secret: ImportedSecret, defaultLimits: [RateLimit], hasher: LookupHasher, nowMs: Int64,
        version: HybridTimestamp, using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> (record: KeyRecord, secret: String?) {
        switch secret {
        case .generated:
            let created = try create(draft, defaultLimits: defaultLimits, hasher: hasher, nowMs: nowMs, version: version, using: &generator)
            return (created.record, created.secret)
        case .key(let key):
            let (draft, limits) = try validated(draft, defaultLimits: defaultLimits, nowMs: nowMs)
            let native = APIKeyFormat.isWellFormed(key)
            guard native || ImportedKeyFormat.isPlausible(key) else {
                throw .invalid(
                    "key",
                    "must be a Gatehouse key or \(ImportedKeyFormat.minLength) to \(ImportedKeyFormat.maxLength) visible ASCII characters (no spaces)")
            }
            let start = native ? APIKeyFormat.displayStart(of: key) : ImportedKeyFormat.displayStart(of: key)
            let record = newRecord(
                draft, limits: limits, lookup: hasher.hash(key), start: start, form: native ? .native : .foreign, nowMs: nowMs,
                version: version, using: &generator)
            return (record, nil)
        case .sha256(let digest, let start):
            let (draft, limits) = try validated(draft, defaultLimits: defaultLimits, nowMs: nowMs)
            guard start.utf8.count <= ImportedKeyFormat.maxStartLength, start.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .invalid("start", "at most \(ImportedKeyFormat.maxStartLength) visible ASCII characters")
            }
            let record = newRecord(
                draft, limits: limits, lookup: digest, start: start, form: .sha256, nowMs: nowMs, version: version, using: &generator)
            return (record, nil)
        }
    }
}
