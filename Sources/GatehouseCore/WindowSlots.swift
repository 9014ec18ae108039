/// Identifies a node's slot in a shared counter. `0` is always this node; the shell maps
/// peer node ids to the other ordinals.
public typealias NodeOrdinal = UInt16

/// The counts of one fixed window, one slot per node (a G-counter).
///
/// Each node only ever raises its own slot; a peer's slot is only ever replaced by a larger
/// value of the same window. The window's total is the sum of the slots.
public struct WindowSlots: Hashable, Sendable {
    /// The fixed window's number: `floor(time / window)`.
    public var index: Int64
    public var own: Int64
    /// Slots of other nodes, sparse: most windows only ever see this node.
    public private(set) var peers: [PeerSlot]
    public private(set) var peerTotal: Int64

    public struct PeerSlot: Hashable, Sendable {
        public var node: NodeOrdinal
        public var count: Int64
    }

    public init(index: Int64) {
        self.index = index
        own = 0
        peers = []
        peerTotal = 0
    }

    public var total: Int64 { own &+ peerTotal }

    /// G-counter merge of one slot: keeps the larger count. Returns whether it grew.
    @discardableResult
    public mutating func merge(node: NodeOrdinal, count: Int64) -> Bool {
        if node == 0 {
            guard count > own else { return false }
            own = count
            return true
        }
        if let position = peers.firstIndex(where: { $0.node == node }) {
            let old = peers[position].count
            guard count > old else { return false }
            peers[position].count = count
            peerTotal += count - old
            return true
        } else if count > 0 {
            // Sorted by node, so equal counts make equal (and equally hashed) values whatever the merge order.
            let position = peers.firstIndex(where: { $0.node > node }) ?? peers.endIndex
            peers.insert(PeerSlot(node: node, count: count), at: position)
            peerTotal += count
            return true
        }
        return false
    }

    public func count(of node: NodeOrdinal) -> Int64 {
        node == 0 ? own : (peers.first(where: { $0.node == node })?.count ?? 0)
    }
}
