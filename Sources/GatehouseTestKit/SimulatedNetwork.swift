import GatehouseMembership

/// How the simulated network treats packets between two nodes.
public struct LinkConditions: Hashable, Sendable {
    /// Probability a packet is lost.
    public var loss: Double
    /// Probability a packet is delivered twice.
    public var duplication: Double
    /// One-way delay, uniformly drawn from this range (ms); differing delays reorder packets.
    public var minDelayMs: Int64
    public var maxDelayMs: Int64

    public init(loss: Double = 0, duplication: Double = 0, minDelayMs: Int64 = 1, maxDelayMs: Int64 = 5) {
        self.loss = loss
        self.duplication = duplication
        self.minDelayMs = minDelayMs
        self.maxDelayMs = maxDelayMs
    }

    public static let perfect = LinkConditions(loss: 0, duplication: 0, minDelayMs: 1, maxDelayMs: 1)
}

/// Which links exist: default conditions, per-link overrides, and partitions.
public struct SimulatedNetwork: Sendable {
    public var defaults: LinkConditions
    public var overrides: [Link: LinkConditions] = [:]
    /// Nodes in different groups cannot talk; nodes in no group talk to everyone not partitioned off.
    public private(set) var partitionOf: [NodeID: Int] = [:]

    public struct Link: Hashable, Sendable {
        public var from: NodeID
        public var to: NodeID
        public init(from: NodeID, to: NodeID) {
            self.from = from
            self.to = to
        }
    }

    public init(defaults: LinkConditions = LinkConditions()) {
        self.defaults = defaults
    }

    public func conditions(from: NodeID, to: NodeID) -> LinkConditions {
        overrides[Link(from: from, to: to)] ?? defaults
    }

    public func canReach(from: NodeID, to: NodeID) -> Bool {
        partitionOf[from, default: 0] == partitionOf[to, default: 0]
    }

    /// Splits the cluster: each group only reaches itself (nodes not listed stay in group 0).
    public mutating func partition(_ groups: [[NodeID]]) {
        partitionOf = [:]
        for (index, group) in groups.enumerated() {
            for node in group { partitionOf[node] = index + 1 }
        }
    }

    public mutating func heal() {
        partitionOf = [:]
    }
}
