/// A key as a caller presented it, checked for form and hashed: the part of a verify that
/// reads no shared state, so a node does it before taking the lock its event loops share.
public enum PresentedKey: Sendable, Hashable {
    /// Not a key of ours: wrong shape or wrong checksum. Never hashed.
    case malformed
    /// Well-formed; its lookup hash is what the index is searched by.
    case wellFormed(LookupHash)

    public init(_ key: UnsafeRawBufferPointer, hasher: borrowing LookupHasher) {
        self = APIKeyFormat.isWellFormed(key) ? .wellFormed(hasher.hash(key)) : .malformed
    }
}
