/// Which escrow a row or a request is about: one limit of a key, or one credit epoch of a key.
public enum EscrowLedger: Hashable, Sendable {
    case window(keyID: String, limit: String, windowMs: Int64)
    /// `epoch` is the write that set the quota (`creditsSetAt`, else the record's version);
    /// `period` the refill period (`CreditRefill`; 0 for a quota that does not refill).
    case credits(keyID: String, epoch: HybridTimestamp, period: Int64)

    public var keyID: String {
        switch self {
        case .window(let keyID, _, _), .credits(let keyID, _, _): keyID
        }
    }
}

/// One member's own rows of one ledger, as it sends them: what it spent (credits; 0 for a
/// window) and everything it handed to each peer. `quota` names the terms the rows were made
/// under, so a copy on other terms (a limit being edited) is ignored, never mixed in.
public struct EscrowRow: Hashable, Sendable {
    public var ledger: EscrowLedger
    public var quota: Int64
    public var spent: Int64
    public var given: [String: Int64]

    public init(ledger: EscrowLedger, quota: Int64, spent: Int64, given: [String: Int64]) {
        self.ledger = ledger
        self.quota = quota
        self.spent = spent
        self.given = given
    }
}

/// "Hand me up to `amount` of this ledger": sent by a member that runs low.
public struct EscrowWant: Hashable, Sendable {
    public var ledger: EscrowLedger
    public var quota: Int64
    public var amount: Int64

    public init(ledger: EscrowLedger, quota: Int64, amount: Int64) {
        self.ledger = ledger
        self.quota = quota
        self.amount = amount
    }
}
