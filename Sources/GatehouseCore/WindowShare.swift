/// This node's share of one sliding-window limit in a cluster: escrow for windows, so a
/// burst that lands on every node at once cannot pass the limit before any count is synced.
///
/// The limit `L` is the quota of `EscrowHoldings`. A node's own sliding count
/// `W_i = prev_i·(1 − elapsed/window) + cur_i` (what it admitted itself, weighted like the
/// window's estimate) never grows except by its own admissions, and is continuous at window
/// edges. A node admits `cost` only while `W_i + cost ≤ H_i + s`, with `H_i` what it holds
/// and `s` the slack; it hands over only what it holds and does not use (`H_i − ⌈W_i⌉`), so
/// `W_i ≤ H_i + s` stays true for every node at every moment. Summed: the cluster's sliding
/// count `Σ W_i ≤ Σ H_i + n·s ≤ L + n·s`.
///
/// - **strict** limits have no slack (`s = 0`: never more than `L`) and hold their shares
///   among the key's `holders`, fixed when the key was written: a member that dies or is cut
///   off keeps its share, so the others may refuse early — the price of the promise.
/// - **default** limits allow `s = max(2 % · L / n, 1)` per member (so at most
///   `max(1.02 · L, L + n)` in all: 1.02 × for limits of 50 per member and more, one request
///   per member above the limit for smaller ones, where a share of a unit or less would refuse
///   a second request on one node before a hand-over could arrive), which spares refusals
///   while a hand-over is on its way, and hold their shares among the
///   live members: when one leaves, the rest split the limit again (closed holdings). A
///   partition's sides therefore each admit up to about `L` until it heals: the default mode
///   prefers answering to refusing.
///
/// A node whose own count nears what it holds asks its peers (`want`); a peer hands over
/// half of what it holds and does not use, so traffic that all lands on one node gets, after
/// k rounds of asking, all but `L·(1 − 1/n)/2^k` of the limit.
public struct WindowShare: Sendable, Hashable {
    /// The default mode's slack, as a fraction of the limit over all members.
    ///
    /// Small on purpose: a window that every node keeps over its limit (traffic at twice the
    /// limit, round-robin) uses the slack in every window, so it is also the default mode's
    /// steady overshoot; 2 % keeps that near what the shared counters alone achieved, while
    /// sparing most refusals during a hand-over.
    public static let defaultSlack = 0.02
    /// A node asks for more once its own count passes this fraction of what it holds.
    public static let askThreshold = 0.75

    public private(set) var holdings: EscrowHoldings
    public let strict: Bool

    public init(limit: Int64, holders: [String], strict: Bool) {
        holdings = EscrowHoldings(quota: limit, holders: holders, closed: !strict)
        self.strict = strict
    }

    public var limit: Int64 { holdings.quota }

    /// The live membership changed (default mode): the same hand-overs over the new members.
    public func rebased(holders: [String]) -> WindowShare {
        var copy = self
        copy.holdings = holdings.rebased(holders: holders)
        return copy
    }

    /// The most `node`'s own sliding count may reach: what it holds, plus the slack.
    public func ceiling(of node: String) -> Double {
        let slack = strict || holdings.holders.isEmpty ? 0 : max(1, Self.defaultSlack * Double(limit) / Double(holdings.holders.count))
        return Double(holdings.held(by: node)) + slack
    }

    /// Whether `node`, whose own sliding count is `ownUsage`, may admit `cost` more.
    public func admits(_ cost: Int64, ownUsage: Double, node: String) -> Bool {
        ownUsage + Double(cost) <= ceiling(of: node)
    }

    /// How much `node` should ask its peers for after counting `ownUsage` (with `cost` just
    /// asked), or `nil` while it holds enough: as much again as it holds, at least the cost.
    public func want(ownUsage: Double, cost: Int64, node: String) -> Int64? {
        Self.want(ownUsage: ownUsage, cost: cost, held: holdings.held(by: node), limit: limit)
    }

    /// `want` for a node holding `held` of `limit` (the verify path keeps its holding at hand).
    public static func want(ownUsage: Double, cost: Int64, held: Int64, limit: Int64) -> Int64? {
        guard ownUsage + Double(cost) > askThreshold * Double(held), held < limit else { return nil }
        return max(1, cost, held)
    }

    /// `from` (this node, with its own sliding count `ownUsage`) answers `to`'s request for
    /// `amount`: it hands over at most half of what it holds and does not use, so it keeps
    /// room for its own traffic, and nothing while it is short itself (past the point where
    /// it would ask): in a burst on every node, shares would otherwise slosh between nodes
    /// that all need them and end up where the burst is already over. Returns what it handed over.
    @discardableResult
    public mutating func handOver(upTo amount: Int64, from: String, to: String, ownUsage: Double) -> Int64 {
        let held = holdings.held(by: from)
        guard ownUsage < Self.askThreshold * Double(held) else { return 0 }
        let used = Int64(exactly: max(0, ownUsage).rounded(.up)) ?? limit
        let free = held &- used
        guard free > 0 else { return 0 }
        return holdings.hand(amount, from: from, to: to, free: free / 2 + free % 2)
    }

    /// Takes `node`'s hand-over row as `node` sent it; `false` for a negative value.
    @discardableResult
    public mutating func merge(rowOf node: String, _ row: [String: Int64]) -> Bool {
        holdings.merge(rowOf: node, row)
    }
}
