import NIOCore

/// The type byte of every cluster message, on either plane: the one place that owns the
/// type space, so no two codecs can claim the same byte.
///
/// Every datagram and every data-stream frame starts `[version][kind]` (after opening the
/// seal). Membership kinds keep the values they always had (1–7). Values 10–15 and 20 were
/// the UDP-era replication and counter datagrams; they stay unassigned, so a packet from a
/// node of that release is refused as an unknown type rather than misread.
/// Data-plane kinds live from 32 up.
public enum ClusterMessageKind: UInt8, CaseIterable, Hashable, Sendable {
    // Failure detection (UDP) and push-pull snapshots.
    case ping = 1
    case pingRequest = 2
    case ack = 3
    case nack = 4
    case gossip = 5
    case pushPullRequest = 6
    case pushPullResponse = 7

    // The data plane: frames of a per-peer sealed TCP stream (`DataMessage`).
    case hello = 32
    case records = 33
    case digest = 34
    case digestReply = 35
    case recordsAndWant = 36
    case counters = 37
    case countersRequest = 38
    case countersReply = 39
    case escrowRows = 40
    case escrowWants = 41
    case escrowRestore = 42
    case auditEntries = 43
    case auditDigest = 44

    /// Whether the kind travels on the data plane's streams rather than as a membership
    /// datagram or snapshot.
    public var isDataPlane: Bool { rawValue >= 32 }
}

/// The `[version][kind]` header in front of every cluster message.
public enum ClusterEnvelope {
    /// The envelope's version; the same byte `GossipCodec` has always written.
    public static let version: UInt8 = 1
    public static let headerBytes = 2
}

extension ByteBuffer {
    /// Writes `[version][kind]`.
    @discardableResult
    public mutating func writeClusterHeader(_ kind: ClusterMessageKind) -> Int {
        writeInteger(ClusterEnvelope.version) + writeInteger(kind.rawValue)
    }

    /// Reads `[version][kind]`, rejecting other versions and unassigned kinds.
    public mutating func readClusterHeader() throws(GossipDecodeError) -> ClusterMessageKind {
        let version = try readChecked(UInt8.self)
        guard version == ClusterEnvelope.version else { throw GossipDecodeError(.unknownVersion, "protocol version \(version)") }
        let raw = try readChecked(UInt8.self)
        guard let kind = ClusterMessageKind(rawValue: raw) else { throw GossipDecodeError(.unknownType, "message type \(raw)") }
        return kind
    }

    /// The kind of the message at `index` without moving the reader, for routing; `nil` when
    /// the header is short, of another version, or names no kind.
    public func getClusterHeader(at index: Int) -> ClusterMessageKind? {
        guard getInteger(at: index, as: UInt8.self) == ClusterEnvelope.version,
            let raw = getInteger(at: index + 1, as: UInt8.self)
        else { return nil }
        return ClusterMessageKind(rawValue: raw)
    }
}
