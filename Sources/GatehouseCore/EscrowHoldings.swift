/// Who holds how much of a capacity the cluster shares — a key's credits, or a sliding-window
/// limit — under escrow (O'Neil, 1986): every node answers from what it holds, and the
/// holdings of all nodes always add up to the quota.
///
/// At the start the quota is split among `holders` (in id order; the first `quota % n` get
/// one more). A node that runs low asks a peer, which hands over part of what it does not
/// use. Hand-overs are recorded, not sent as deltas: `given[from][to]` is everything `from`
/// ever handed to `to`, raised only by `from` and merged by maximum, so a lost, repeated or
/// reordered exchange changes nothing and rows can be re-sent at any time.
///
/// Why the sum holds: a node holds its initial share plus what it received minus what it
/// handed over. A node knows its own outgoing rows exactly (only it raises them); what it
/// received may reach it late, which only makes it hold less than it does. So the holdings
/// each node believes in add up to at most the quota.
///
/// `closed` holdings count only hand-overs between holders: when the holder set is the live
/// membership (a default-mode limit), a member that left takes nothing with it and the ones
/// that remain split the quota again. Open holdings (credits, strict limits) count every row,
/// so a member that joined later holds what it was handed.
public struct EscrowHoldings: Sendable, Hashable {
    public let quota: Int64
    public let holders: [String]
    public let closed: Bool
    public private(set) var given: [String: [String: Int64]] = [:]
    /// Totals of the counted rows, kept with every change so `held(by:)` is two lookups.
    private var inflow: [String: Int64] = [:]
    private var outflow: [String: Int64] = [:]

    public init(quota: Int64, holders: [String], closed: Bool = false) {
        self.quota = max(0, quota)
        self.holders = Array(Set(holders)).sorted()
        self.closed = closed
    }

    /// The same rows over another holder set (the live membership changed).
    public func rebased(holders newHolders: [String]) -> EscrowHoldings {
        var copy = EscrowHoldings(quota: quota, holders: newHolders, closed: closed)
        for (from, row) in given {
            for (to, amount) in row { copy.raise(from: from, to: to, to: amount) }
        }
        return copy
    }

    /// What `node` held at the start.
    public func initialShare(of node: String) -> Int64 {
        guard let position = holders.firstIndex(of: node) else { return 0 }
        let count = Int64(holders.count)
        return quota / count + (Int64(position) < quota % count ? 1 : 0)
    }

    /// What `node` holds, as far as this copy knows.
    public func held(by node: String) -> Int64 {
        initialShare(of: node) &+ (inflow[node] ?? 0) &- (outflow[node] ?? 0)
    }

    /// `from` (this node) hands `to` up to `amount`, never more than `free` (what it holds and
    /// does not need); returns what it handed over.
    @discardableResult
    public mutating func hand(_ amount: Int64, from: String, to: String, free: Int64) -> Int64 {
        guard from != to, !closed || (holders.contains(from) && holders.contains(to)) else { return 0 }
        let handed = min(max(0, amount), max(0, free))
        guard handed > 0 else { return 0 }
        raise(from: from, to: to, to: (given[from]?[to] ?? 0) &+ handed)
        return handed
    }

    /// `node`'s own row: everything it handed to each peer.
    public func row(of node: String) -> [String: Int64] { given[node] ?? [:] }

    /// Takes `node`'s row as `node` sent it (never another's row relayed: each node is the
    /// only writer of its own). Values only grow; a smaller one is an older copy. Returns
    /// `false` (and takes nothing) when a value is negative.
    @discardableResult
    public mutating func merge(rowOf node: String, _ row: [String: Int64]) -> Bool {
        guard row.values.allSatisfy({ $0 >= 0 }) else { return false }
        for (to, amount) in row where to != node { raise(from: node, to: to, to: amount) }
        return true
    }

    private mutating func raise(from: String, to: String, to amount: Int64) {
        let before = given[from]?[to] ?? 0
        guard amount > before else { return }
        // A row names at most `KeyRules.maxHolders` recipients: a member sending rows to ever
        // new names cannot grow this copy without bound (a hand-over to a name beyond the cap
        // is dropped, which only leaves that share unused where it was).
        guard given[from]?[to] != nil || (given[from]?.count ?? 0) < KeyRules.maxHolders else { return }
        given[from, default: [:]][to] = amount
        guard !closed || (holders.contains(from) && holders.contains(to)) else { return }
        inflow[to, default: 0] &+= amount &- before
        outflow[from, default: 0] &+= amount &- before
    }
}
