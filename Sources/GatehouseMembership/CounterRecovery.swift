/// A started node getting its own counts back from the copies its peers kept.
///
/// One request to each peer is not enough: a peer that has not yet taken the restarted node
/// back as live (it still has it as dead, or has not run its next membership tick) has no
/// stream to it and drops its answer. So the node asks every live member that has not
/// answered, again every `ticksBetweenAsks`, until each live member answered or
/// `maxTicks` passed since the first request. Ticks are the replication machine's counter
/// ticks; a node with no live member does not count them (it has nobody to ask yet).
public struct CounterRecovery: Hashable, Sendable {
    public enum Step: Hashable, Sendable {
        /// Ask these members (again) for this node's counts.
        case ask([NodeID])
        /// Nothing to do on this tick.
        case wait
        /// Recovery is over: every live member answered, or time ran out on those left.
        case finished(answered: [NodeID], unanswered: [NodeID])
    }

    public let ticksBetweenAsks: Int
    public let maxTicks: Int
    /// Members whose answer arrived.
    public private(set) var answered: Set<NodeID> = []
    /// Ticks since the first request; `nil` until there was somebody to ask.
    private var ticksSinceFirstAsk: Int?
    private var ticksSinceAsk = 0

    public init(ticksBetweenAsks: Int, maxTicks: Int) {
        self.ticksBetweenAsks = max(1, ticksBetweenAsks)
        self.maxTicks = max(1, maxTicks)
    }

    /// A member's whole answer arrived (its last part: `ReplicationMachine.counterReplies`).
    public mutating func onAnswer(from peer: NodeID) {
        answered.insert(peer)
    }

    /// One tick, with the members live now.
    public mutating func onTick(live: [NodeID]) -> Step {
        let waiting = live.filter { !answered.contains($0) }
        if waiting.isEmpty {
            return answered.isEmpty ? .wait : .finished(answered: answered.sorted(), unanswered: [])
        }
        guard let ticks = ticksSinceFirstAsk else {
            ticksSinceFirstAsk = 0
            ticksSinceAsk = 0
            return .ask(waiting)
        }
        ticksSinceFirstAsk = ticks + 1
        if ticks + 1 >= maxTicks { return .finished(answered: answered.sorted(), unanswered: waiting) }
        ticksSinceAsk += 1
        guard ticksSinceAsk >= ticksBetweenAsks else { return .wait }
        ticksSinceAsk = 0
        return .ask(waiting)
    }
}
