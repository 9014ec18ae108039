/// A key as a caller presented it, checked for form and hashed: the part of a verify that
/// reads no shared state, so a node does it before taking the lock its event loops share.
public enum PresentedKey: Sendable, Hashable {
    /// Not a key of ours: wrong shape or wrong checksum (and no imported key could have its
    /// shape). Never hashed.
    case malformed
    /// Well-formed; its lookup hash is what the index is searched by.
    case wellFormed(LookupHash)
    /// Worth a lookup among keys imported by their SHA-256 too: searched by the pepper's
    /// HMAC first (`nil` when no key of that shape is held so), then by `sha256`.
    case withSHA256(LookupHash?, sha256: LookupHash)

    public init(_ key: UnsafeRawBufferPointer, hasher: borrowing LookupHasher) {
        self = APIKeyFormat.isWellFormed(key) ? .wellFormed(hasher.hash(key)) : .malformed
    }

    /// Hashed every way a held key could have been made (`imported`: the index's imported
    /// lookups): a node without imported keys does exactly what the plain initialiser does.
    public init(_ key: UnsafeRawBufferPointer, hasher: borrowing LookupHasher, imported: ImportedLookups) {
        let native = APIKeyFormat.isWellFormed(key)
        guard native || ((imported.foreign > 0 || imported.sha256 > 0) && ImportedKeyFormat.isPlausible(key)) else {
            self = .malformed
            return
        }
        let lookup = native || imported.foreign > 0 ? hasher.hash(key) : nil
        if imported.sha256 > 0 {
            self = .withSHA256(lookup, sha256: ImportedKeyFormat.sha256(key))
        } else if let lookup {
            self = .wellFormed(lookup)
        } else {
            self = .malformed
        }
    }
}
