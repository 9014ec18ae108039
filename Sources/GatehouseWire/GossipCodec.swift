import GatehouseMembership
import NIOCore

/// Why gossip bytes (already authenticated and decrypted) are not a valid message.
public struct GossipDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let truncated = Code(rawValue: "truncated")
        public static let unknownVersion = Code(rawValue: "unknown_version")
        public static let unknownType = Code(rawValue: "unknown_type")
        public static let invalidField = Code(rawValue: "invalid_field")
        public static let tooLarge = Code(rawValue: "too_large")
        public static let trailingBytes = Code(rawValue: "trailing_bytes")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The binary format of membership messages and push-pull snapshots:
/// `[version][type]` then fields in order; strings are a 1-byte length and UTF-8, numbers
/// big-endian, addresses a host string and a 2-byte port, and gossip a 2-byte count of
/// items. Sizes agree with `MembershipWireSize`, which the state machine plans with.
/// Type bytes are `ClusterMessageKind`'s membership kinds.
public enum GossipCodec {
    public static let version: UInt8 = ClusterEnvelope.version
    public static let maxGossipItems = 512
    public static let maxSnapshotMembers = 100_000
    public static let maxPayloadBytes = 1_400

    enum GossipKind: UInt8 {
        case alive = 1, suspect = 2, dead = 3, payload = 4
    }

    // MARK: Encoding

    public static func encode(_ message: MembershipMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(MembershipWireSize.message(message))
        switch message {
        case .ping(let sequence, let target, let source, let sourceAddress, let gossip):
            buffer.writeClusterHeader(.ping)
            buffer.writeInteger(sequence)
            buffer.writeShortString(target.name)
            buffer.writeShortString(source.name)
            buffer.writeAddress(sourceAddress)
            buffer.writeGossip(gossip)
        case .pingRequest(let sequence, let target, let targetAddress, let source, let sourceAddress, let gossip):
            buffer.writeClusterHeader(.pingRequest)
            buffer.writeInteger(sequence)
            buffer.writeShortString(target.name)
            buffer.writeAddress(targetAddress)
            buffer.writeShortString(source.name)
            buffer.writeAddress(sourceAddress)
            buffer.writeGossip(gossip)
        case .ack(let sequence, let source, let sentAtMs, let gossip):
            buffer.writeClusterHeader(.ack)
            buffer.writeInteger(sequence)
            buffer.writeShortString(source.name)
            buffer.writeInteger(sentAtMs)
            buffer.writeGossip(gossip)
        case .nack(let sequence, let source):
            buffer.writeClusterHeader(.nack)
            buffer.writeInteger(sequence)
            buffer.writeShortString(source.name)
        case .gossip(let source, let gossip):
            buffer.writeClusterHeader(.gossip)
            buffer.writeShortString(source.name)
            buffer.writeGossip(gossip)
        }
        return buffer
    }

    /// A push-pull snapshot: the request carries the sender's view, the response the answer.
    public static func encodeSnapshot(_ members: [Member], isResponse: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeClusterHeader(isResponse ? .pushPullResponse : .pushPullRequest)
        buffer.writeInteger(UInt32(members.count))
        for member in members {
            buffer.writeShortString(member.id.name)
            buffer.writeAddress(member.address)
            buffer.writeInteger(member.status.rawValue)
            buffer.writeInteger(member.incarnation)
        }
        return buffer
    }

    // MARK: Decoding

    public static func decode(_ bytes: ByteBuffer) throws(GossipDecodeError) -> MembershipMessage {
        var buffer = bytes
        let type = try buffer.readClusterHeader()
        let message: MembershipMessage
        switch type {
        case .ping:
            message = .ping(
                sequence: try buffer.readChecked(UInt32.self), target: NodeID(try buffer.readShortString("target")),
                source: NodeID(try buffer.readShortString("source")), sourceAddress: try buffer.readAddress(),
                gossip: try buffer.readGossip())
        case .pingRequest:
            message = .pingRequest(
                sequence: try buffer.readChecked(UInt32.self), target: NodeID(try buffer.readShortString("target")),
                targetAddress: try buffer.readAddress(), source: NodeID(try buffer.readShortString("source")),
                sourceAddress: try buffer.readAddress(), gossip: try buffer.readGossip())
        case .ack:
            message = .ack(
                sequence: try buffer.readChecked(UInt32.self), source: NodeID(try buffer.readShortString("source")),
                sentAtMs: try buffer.readChecked(Int64.self), gossip: try buffer.readGossip())
        case .nack:
            message = .nack(sequence: try buffer.readChecked(UInt32.self), source: NodeID(try buffer.readShortString("source")))
        case .gossip:
            message = .gossip(source: NodeID(try buffer.readShortString("source")), gossip: try buffer.readGossip())
        case .pushPullRequest, .pushPullResponse:
            throw GossipDecodeError(.unknownType, "a push-pull snapshot is not a datagram message")
        case .hello, .records, .digest, .digestReply, .recordsAndWant, .counters, .countersRequest, .countersReply, .escrowRows, .escrowWants, .escrowRestore,
            .auditEntries, .auditDigest:
            throw GossipDecodeError(.unknownType, "a data-stream frame is not a datagram message")
        }
        guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "\(buffer.readableBytes) bytes after the message") }
        return message
    }

    public static func decodeSnapshot(_ bytes: ByteBuffer) throws(GossipDecodeError) -> (members: [Member], isResponse: Bool) {
        var buffer = bytes
        let type = try buffer.readClusterHeader()
        guard type == .pushPullRequest || type == .pushPullResponse else {
            throw GossipDecodeError(.unknownType, "expected a push-pull snapshot")
        }
        let count = try buffer.readChecked(UInt32.self)
        guard count <= maxSnapshotMembers else { throw GossipDecodeError(.tooLarge, "\(count) members in a snapshot") }
        var members: [Member] = []
        members.reserveCapacity(min(Int(count), buffer.readableBytes / 12))
        for _ in 0..<count {
            let id = NodeID(try buffer.readShortString("member"))
            let address = try buffer.readAddress()
            guard let status = MemberStatus(rawValue: try buffer.readChecked(UInt8.self)) else {
                throw GossipDecodeError(.invalidField, "unknown member status")
            }
            let incarnation = try buffer.readChecked(UInt64.self)
            members.append(Member(id: id, address: address, status: status, incarnation: incarnation, lastChangeMs: 0))
        }
        guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "\(buffer.readableBytes) bytes after the snapshot") }
        return (members, type == .pushPullResponse)
    }
}

extension ByteBuffer {
    mutating func writeShortString(_ text: String) {
        let bytes = text.utf8.prefix(255)
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeAddress(_ address: MemberAddress) {
        writeShortString(address.host)
        writeInteger(UInt16(clamping: address.port))
    }

    mutating func writeGossip(_ items: [Gossip]) {
        writeInteger(UInt16(items.count))
        for item in items {
            switch item {
            case .alive(let id, let incarnation, let address):
                writeInteger(GossipCodec.GossipKind.alive.rawValue)
                writeShortString(id.name)
                writeInteger(incarnation)
                writeAddress(address)
            case .suspect(let id, let incarnation, let suspector):
                writeInteger(GossipCodec.GossipKind.suspect.rawValue)
                writeShortString(id.name)
                writeInteger(incarnation)
                writeShortString(suspector.name)
            case .dead(let id, let incarnation, let declarer):
                writeInteger(GossipCodec.GossipKind.dead.rawValue)
                writeShortString(id.name)
                writeInteger(incarnation)
                writeShortString(declarer.name)
            case .payload(let payloadID, let bytes):
                writeInteger(GossipCodec.GossipKind.payload.rawValue)
                writeShortString(payloadID.origin.name)
                writeInteger(payloadID.sequence)
                writeInteger(UInt16(bytes.count))
                writeBytes(bytes)
            }
        }
    }

    mutating func readChecked<Value: FixedWidthInteger>(_ type: Value.Type) throws(GossipDecodeError) -> Value {
        guard let value = readInteger(as: Value.self) else { throw GossipDecodeError(.truncated, "message ends early") }
        return value
    }

    mutating func readShortString(_ field: String) throws(GossipDecodeError) -> String {
        let length = Int(try readChecked(UInt8.self))
        guard let bytes = readBytes(length: length) else { throw GossipDecodeError(.truncated, "\(field) ends early") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw GossipDecodeError(.invalidField, "\(field) is not UTF-8")
        }
        return text
    }

    mutating func readAddress() throws(GossipDecodeError) -> MemberAddress {
        let host = try readShortString("host")
        guard !host.isEmpty else { throw GossipDecodeError(.invalidField, "empty host") }
        return MemberAddress(host: host, port: Int(try readChecked(UInt16.self)))
    }

    mutating func readGossip() throws(GossipDecodeError) -> [Gossip] {
        let count = Int(try readChecked(UInt16.self))
        guard count <= GossipCodec.maxGossipItems else { throw GossipDecodeError(.tooLarge, "\(count) gossip items") }
        var items: [Gossip] = []
        items.reserveCapacity(min(count, readableBytes / 10))
        for _ in 0..<count {
            let raw = try readChecked(UInt8.self)
            guard let kind = GossipCodec.GossipKind(rawValue: raw) else { throw GossipDecodeError(.invalidField, "gossip kind \(raw)") }
            let id = NodeID(try readShortString("member"))
            let number = try readChecked(UInt64.self)
            switch kind {
            case .alive:
                items.append(.alive(id, incarnation: number, address: try readAddress()))
            case .suspect:
                items.append(.suspect(id, incarnation: number, suspector: NodeID(try readShortString("suspector"))))
            case .dead:
                items.append(.dead(id, incarnation: number, declarer: NodeID(try readShortString("declarer"))))
            case .payload:
                let length = Int(try readChecked(UInt16.self))
                guard length <= GossipCodec.maxPayloadBytes else { throw GossipDecodeError(.tooLarge, "payload of \(length) bytes") }
                guard let bytes = readBytes(length: length) else { throw GossipDecodeError(.truncated, "payload ends early") }
                items.append(.payload(PayloadID(origin: id, sequence: number), bytes))
            }
        }
        return items
    }
}
