/// One key's credit quota for one epoch, spent through escrow (`EscrowHoldings`) so the
/// cluster never spends more than the quota while every node answers from what it holds.
///
/// On top of the holdings, `spent[node]` is everything `node` spent, raised only by `node`
/// and merged by maximum like the hand-over rows.
///
/// Why the quota holds: every node spends at most what it believes it holds, which is at
/// most what it truly holds (`EscrowHoldings`), and the true holdings add up to the quota;
/// all of them together therefore spend at most the quota. A node cut off spends at most what
/// it held when the cut came.
public struct CreditEscrow: Sendable, Hashable {
    public private(set) var holdings: EscrowHoldings
    public private(set) var spent: [String: Int64] = [:]

    public init(quota: Int64, holders: [String]) {
        holdings = EscrowHoldings(quota: quota, holders: holders)
    }

    public var quota: Int64 { holdings.quota }
    public var holders: [String] { holdings.holders }

    public func initialShare(of node: String) -> Int64 { holdings.initialShare(of: node) }

    /// What `node` holds, as far as this copy knows.
    public func held(by node: String) -> Int64 { holdings.held(by: node) }

    /// What `node` may still spend.
    public func available(to node: String) -> Int64 {
        max(0, held(by: node) &- (spent[node] ?? 0))
    }

    /// The quota less everything spent that this copy knows of: what remains cluster-wide,
    /// reported the same way on every node once their copies agree.
    public var remaining: Int64 {
        max(0, quota &- spent.values.reduce(Int64(0)) { $0 &+ $1 })
    }

    /// `node` (this one) spends `cost` if it holds that much; returns whether it did.
    public mutating func spend(_ cost: Int64, by node: String) -> Bool {
        guard cost >= 0, cost <= available(to: node) else { return false }
        spent[node, default: 0] += cost
        return true
    }

    /// `from` (this one) hands up to `amount` of what it has not spent to `to`; returns how
    /// much it handed over.
    @discardableResult
    public mutating func hand(_ amount: Int64, from: String, to: String) -> Int64 {
        holdings.hand(amount, from: from, to: to, free: available(to: from))
    }

    /// `node`'s own rows (what it spent and what it handed to each peer), as it sends them.
    public func rows(of node: String) -> (spent: Int64, given: [String: Int64]) {
        (spent[node] ?? 0, holdings.row(of: node))
    }

    /// Takes `node`'s rows as `node` sent them (never another's rows relayed: each node is
    /// the only writer of its own, and the shell takes a member's rows only from that
    /// member's sealed stream, or its own back from a peer after a restart). Values only
    /// grow; a smaller one is an older copy. Negative values are refused (`false`). Whether
    /// `node` really held what it handed over cannot be checked from here (what it received
    /// may not have reached this copy yet, and such gaps can be circular); a member with the
    /// keyring is trusted that far.
    @discardableResult
    public mutating func merge(rowsOf node: String, spent theirSpent: Int64, given theirGiven: [String: Int64]) -> Bool {
        guard theirSpent >= 0, holdings.merge(rowOf: node, theirGiven) else { return false }
        if theirSpent > (spent[node] ?? 0) { spent[node] = theirSpent }
        return true
    }
}
