/// One piece of disseminated state, piggybacked on probes and gossip messages.
public enum Gossip: Hashable, Sendable {
    /// `member` is alive at `incarnation`, reachable at `address`.
    case alive(NodeID, incarnation: UInt64, address: MemberAddress)
    /// `suspector` suspects `member` at `incarnation`.
    case suspect(NodeID, incarnation: UInt64, suspector: NodeID)
    /// `declarer` declares `member` dead at `incarnation`; a member declaring itself dead has left.
    case dead(NodeID, incarnation: UInt64, declarer: NodeID)
    /// An opaque application payload (replicated writes, counter deltas), delivered once to the
    /// application of every node that receives it.
    case payload(PayloadID, [UInt8])

    /// The member a membership update is about; `nil` for payloads.
    public var subject: NodeID? {
        switch self {
        case .alive(let id, _, _), .suspect(let id, _, _), .dead(let id, _, _): id
        case .payload: nil
        }
    }
}

/// Identifies an application payload so duplicates are delivered only once.
public struct PayloadID: Hashable, Sendable {
    public var origin: NodeID
    public var sequence: UInt64

    public init(origin: NodeID, sequence: UInt64) {
        self.origin = origin
        self.sequence = sequence
    }
}

/// The messages of the protocol. Every message may carry piggybacked gossip.
public enum MembershipMessage: Hashable, Sendable {
    /// "Are you alive?" to `target`, answered by an ack with the same sequence.
    case ping(sequence: UInt32, target: NodeID, source: NodeID, sourceAddress: MemberAddress, gossip: [Gossip])
    /// "Please ping `target` for me" (indirect probe); answered by an ack or a nack.
    case pingRequest(sequence: UInt32, target: NodeID, targetAddress: MemberAddress, source: NodeID, sourceAddress: MemberAddress, gossip: [Gossip])
    /// "I am alive", with the responder's wall clock when it answered (`sentAtMs`), which the
    /// prober compares with its own (`ClockOffsets`).
    case ack(sequence: UInt32, source: NodeID, sentAtMs: Int64, gossip: [Gossip])
    /// "I asked, but `target` did not answer me either" — tells the prober its own network is fine.
    case nack(sequence: UInt32, source: NodeID)
    /// Nothing but piggybacked gossip.
    case gossip(source: NodeID, gossip: [Gossip])

    public var gossip: [Gossip] {
        switch self {
        case .ping(_, _, _, _, let gossip), .pingRequest(_, _, _, _, _, let gossip), .ack(_, _, _, let gossip), .gossip(_, let gossip):
            gossip
        case .nack:
            []
        }
    }
}

/// The sizes the wire format gives each part, so the state machine can fill a datagram
/// without knowing the codec. `GatehouseWire`'s codec is tested to match them.
public enum MembershipWireSize {
    /// Version, type, and the cluster-independent header of a message.
    public static let header = 2
    static func string(_ text: String) -> Int { 1 + text.utf8.count }
    static func addressSize(_ address: MemberAddress) -> Int { string(address.host) + 2 }

    public static func gossip(_ gossip: Gossip) -> Int {
        switch gossip {
        case .alive(let id, _, let address): 1 + string(id.name) + 8 + addressSize(address)
        case .suspect(let id, _, let from), .dead(let id, _, let from): 1 + string(id.name) + 8 + string(from.name)
        case .payload(let id, let bytes): 1 + string(id.origin.name) + 8 + 2 + bytes.count
        }
    }

    /// A message's size without its gossip, plus the 2-byte gossip count.
    public static func envelope(_ message: MembershipMessage) -> Int {
        switch message {
        case .ping(_, let target, let source, let address, _):
            header + 4 + string(target.name) + string(source.name) + addressSize(address) + 2
        case .pingRequest(_, let target, let targetAddress, let source, let sourceAddress, _):
            header + 4 + string(target.name) + addressSize(targetAddress) + string(source.name) + addressSize(sourceAddress) + 2
        case .ack(_, let source, _, _):
            header + 4 + string(source.name) + 8 + 2
        case .nack(_, let source):
            header + 4 + string(source.name)
        case .gossip(let source, _):
            header + string(source.name) + 2
        }
    }

    public static func message(_ message: MembershipMessage) -> Int {
        envelope(message) + message.gossip.reduce(0) { $0 + gossip($1) }
    }
}
