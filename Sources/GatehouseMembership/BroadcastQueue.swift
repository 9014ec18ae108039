/// Gossip waiting to be piggybacked, each item sent a limited number of times
/// (λ·log(N+1)), least-sent first.
///
/// A newer update about a member replaces any older one still queued: only the latest
/// state of a member is worth spreading.
public struct BroadcastQueue: Sendable {
    struct Item: Sendable {
        var gossip: Gossip
        var transmits: Int
        /// Insertion order, to break ties between equally-sent items: newest first.
        var order: UInt64
    }

    private var items: [Item] = []
    private var nextOrder: UInt64 = 0

    public init() {}

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }

    public mutating func enqueue(_ gossip: Gossip) {
        if let subject = gossip.subject {
            items.removeAll { $0.gossip.subject == subject }
        }
        items.append(Item(gossip: gossip, transmits: 0, order: nextOrder))
        nextOrder &+= 1
    }

    /// Takes as many items as fit in `budget` bytes, least-sent (then newest) first, counting
    /// a transmission for each and dropping those that reached `limit`.
    public mutating func take(budget: Int, limit: Int) -> [Gossip] {
        guard !items.isEmpty, budget > 0 else { return [] }
        let ranked = items.indices.sorted { a, b in
            items[a].transmits != items[b].transmits ? items[a].transmits < items[b].transmits : items[a].order > items[b].order
        }
        var remaining = budget
        var chosen: [Gossip] = []
        var sent = Set<Int>()
        for index in ranked {
            let size = MembershipWireSize.gossip(items[index].gossip)
            guard size <= remaining else { continue }
            remaining -= size
            chosen.append(items[index].gossip)
            sent.insert(index)
        }
        for index in sent { items[index].transmits += 1 }
        items.removeAll { $0.transmits >= limit }
        return chosen
    }
}
