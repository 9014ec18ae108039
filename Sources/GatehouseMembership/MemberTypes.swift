/// A node's name in the cluster (`nodes[].id` in `cluster.yaml`).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var name: String

    public init(_ name: String) {
        self.name = name
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.name < rhs.name }
    public var description: String { name }
}

/// Where a node's gossip endpoint (UDP and TCP) listens.
public struct MemberAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What this node believes about a member.
public enum MemberStatus: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    /// Left on purpose (a graceful leave); like dead, but nobody needs to worry.
    case left = 3

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }

    /// Whether the member takes part: is probed, gossiped to, counted in N.
    public var isActive: Bool { self == .alive || self == .suspect }
}

/// One member as this node sees it.
public struct Member: Hashable, Sendable {
    public var id: NodeID
    public var address: MemberAddress
    public var status: MemberStatus
    /// Only the member itself raises its incarnation, to refute a suspicion or to leave.
    public var incarnation: UInt64
    /// When (this node's clock, ms) the status or incarnation last changed.
    public var lastChangeMs: Int64

    public init(id: NodeID, address: MemberAddress, status: MemberStatus, incarnation: UInt64, lastChangeMs: Int64) {
        self.id = id
        self.address = address
        self.status = status
        self.incarnation = incarnation
        self.lastChangeMs = lastChangeMs
    }
}
