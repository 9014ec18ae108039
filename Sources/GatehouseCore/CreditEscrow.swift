/// One key's credit quota for one epoch, spent through escrow (O'Neil, 1986) so the cluster
/// never spends more than the quota while every node answers from what it holds.
///
/// At the start of an epoch the quota is split among `holders` (the live members when the
/// quota was set, in id order; the first `quota % n` get one more). A node spends only what it
/// holds; a node that runs low asks a peer, which hands over part of what it holds. Hand-overs
/// are recorded, not sent as deltas: `given[from][to]` is everything `from` ever handed to
/// `to`, raised only by `from`, and `spent[node]` everything `node` spent, raised only by
/// `node`. Both merge by maximum, so a lost, repeated or reordered exchange changes nothing
/// and state can be re-sent at any time.
///
/// Why the quota holds: what a node holds is its initial share plus what it was given minus
/// what it gave, so the holdings of all nodes always sum to the quota. A node knows its own
/// `spent` and outgoing `given` exactly (only it raises them); what it was given may reach it
/// late, which only makes it hold less than it does. So every node spends at most what it
/// truly holds, and all of them together at most the quota. A node cut off spends at most
/// what it held when the cut came.
public struct CreditEscrow: Sendable, Hashable {
    public let quota: Int64
    public let holders: [String]
    public private(set) var given: [String: [String: Int64]] = [:]
    public private(set) var spent: [String: Int64] = [:]

    public init(quota: Int64, holders: [String]) {
        self.quota = max(0, quota)
        self.holders = Array(Set(holders)).sorted()
    }

    /// What `node` held when the epoch began.
    public func initialShare(of node: String) -> Int64 {
        guard let position = holders.firstIndex(of: node) else { return 0 }
        let count = Int64(holders.count)
        return quota / count + (Int64(position) < quota % count ? 1 : 0)
    }

    /// What `node` holds, as far as this copy knows.
    public func held(by node: String) -> Int64 {
        let received = given.reduce(Int64(0)) { total, row in row.key == node ? total : total &+ (row.value[node] ?? 0) }
        let handedOver = given[node]?.reduce(Int64(0)) { $0 &+ $1.value } ?? 0
        return initialShare(of: node) &+ received &- handedOver
    }

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
        guard from != to else { return 0 }
        let handed = min(max(0, amount), available(to: from))
        guard handed > 0 else { return 0 }
        given[from, default: [:]][to, default: 0] += handed
        return handed
    }

    /// `node`'s own rows (what it spent and what it handed to each peer), as it sends them.
    public func rows(of node: String) -> (spent: Int64, given: [String: Int64]) {
        (spent[node] ?? 0, given[node] ?? [:])
    }

    /// Takes `node`'s rows as `node` sent them (never another's rows relayed: each node is
    /// the only writer of its own, and the shell takes a member's rows only from that
    /// member's sealed stream). Values only grow; a smaller one is an older copy. Negative
    /// values are refused (`false`). Whether `node` really held what it handed over cannot be
    /// checked from here (what it received may not have reached this copy yet, and such
    /// gaps can be circular); a member with the keyring is trusted that far.
    @discardableResult
    public mutating func merge(rowsOf node: String, spent theirSpent: Int64, given theirGiven: [String: Int64]) -> Bool {
        guard theirSpent >= 0, theirGiven.values.allSatisfy({ $0 >= 0 }) else { return false }
        if theirSpent > (spent[node] ?? 0) { spent[node] = theirSpent }
        for (to, amount) in theirGiven where to != node && amount > (given[node]?[to] ?? 0) {
            given[node, default: [:]][to] = amount
        }
        return true
    }
}
