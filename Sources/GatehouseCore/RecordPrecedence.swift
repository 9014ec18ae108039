/// The order in which replicas of one key merge: revoked above live, then the later secret
/// generation, then the later version (last writer wins among what is left).
///
/// Plain last-writer-wins let a revoke be undone: an edit made on a node that had not yet
/// heard of it (or whose clock ran ahead) carries a later version with `revoked_at` unset,
/// and won everywhere. Ordered this way, a merge is the maximum under a total order — so it
/// is commutative, associative and idempotent, replicas converge whatever order records
/// arrive in, and:
/// - once revoked, no version from any node or clock makes the key valid again;
/// - a rotation is never undone by a write made on the secret it replaced, so a retired
///   secret can only lose validity through a merge, never become current again.
///
/// The price: an edit made concurrently with a revoke or a rotation, on a node that had not
/// heard of it, is dropped (as any concurrent write loses under last-writer-wins); of two
/// concurrent rotations one wins whole — the loser's new secret stops working, and the
/// secret both replaced stays valid until the winner's `valid_until`.
public struct RecordPrecedence: Comparable, Hashable, Sendable {
    public var revoked: Bool
    public var secretGeneration: UInt32
    public var version: HybridTimestamp

    public init(revoked: Bool, secretGeneration: UInt32, version: HybridTimestamp) {
        self.revoked = revoked
        self.secretGeneration = secretGeneration
        self.version = version
    }

    /// A live record whose secret was never rotated, at `version`.
    public static func live(_ version: HybridTimestamp) -> Self {
        Self(revoked: false, secretGeneration: 0, version: version)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.revoked != rhs.revoked { return !lhs.revoked }
        if lhs.secretGeneration != rhs.secretGeneration { return lhs.secretGeneration < rhs.secretGeneration }
        return lhs.version < rhs.version
    }
}

extension KeyRecord {
    /// The merge of two replicas of one key: the one with the higher precedence, keeping the
    /// later `last_used_at` of the two (usage, not part of any write).
    public static func merged(_ lhs: KeyRecord, _ rhs: KeyRecord) -> KeyRecord {
        var winner = lhs.precedence >= rhs.precedence ? lhs : rhs
        let loser = lhs.precedence >= rhs.precedence ? rhs : lhs
        if let seen = loser.lastUsedAt, seen > (winner.lastUsedAt ?? Int64.min) { winner.lastUsedAt = seen }
        return winner
    }
}
