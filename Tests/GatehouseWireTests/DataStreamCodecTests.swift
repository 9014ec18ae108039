import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

@Suite("Cluster envelope")
struct ClusterEnvelopeTests {
    @Test func membershipKindsKeepTheirBytesAndNoKindTakesALegacyOne() {
        let membership: [ClusterMessageKind] = [.ping, .pingRequest, .ack, .nack, .gossip, .pushPullRequest, .pushPullResponse]
        #expect(membership.map(\.rawValue) == Array(1...7))
        #expect(membership.allSatisfy { !$0.isDataPlane })
        // The UDP-era replication (10–15) and counter (20) types stay unassigned, so a
        // datagram from a node of the previous release is never read as something else.
        for retired in Array(10...15) + [20] as [UInt8] { #expect(ClusterMessageKind(rawValue: retired) == nil) }
    }

    @Test func gossipBytesAreUnchanged() {
        let nack = GossipCodec.encode(.nack(sequence: 7, source: NodeID("n3")))
        #expect(Wire.bytes(nack) == [1, 4, 0, 0, 0, 7, 2, UInt8(ascii: "n"), UInt8(ascii: "3")])
        #expect(nack.getClusterHeader(at: nack.readerIndex) == .nack)
        #expect(ByteBuffer(bytes: [2, 4]).getClusterHeader(at: 0) == nil)
        #expect(ByteBuffer(bytes: [1]).getClusterHeader(at: 0) == nil)
    }

    @Test func eachPlaneRefusesTheOthersKinds() {
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        let frame = encoder.encode(.countersRequest)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try GossipCodec.decode(frame) }?.code == .unknownType)
        let ping = GossipCodec.encode(.nack(sequence: 1, source: NodeID("n1")))
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ping) }?.code == .unknownType)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ByteBuffer(bytes: [1, 99])) }?.code == .unknownType)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ByteBuffer(bytes: [2, 38])) }?.code == .unknownVersion)
    }
}

@Suite("Data stream codec")
struct DataStreamCodecTests {
    static let buckets: [CounterBucket] = {
        var random = SeededGenerator(seed: 20)
        return (0..<60).map { _ in random.counterBucket() }
    }()

    /// A stream's worth of frames: every kind, many times over, in random order.
    static func stream(seed: UInt64, rounds: Int) -> [DataMessage] {
        var random = SeededGenerator(seed: seed)
        var messages: [DataMessage] = []
        for _ in 0..<rounds { messages += random.dataMessages(buckets: buckets).shuffled(using: &random) }
        return messages
    }

    @Test func everyMessageRoundTripsOnOneStream() throws {
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        for message in Self.stream(seed: 21, rounds: 200) {
            let frame = encoder.encode(message)
            #expect(frame.getClusterHeader(at: frame.readerIndex)?.isDataPlane == true)
            #expect(try decoder.decode(frame) == message)
        }
        #expect(decoder.definedBuckets == encoder.definedBuckets)
        #expect(encoder.definedBuckets == Self.buckets.count)
    }

    @Test func theLargestRecordsAndEmptyMessagesRoundTrip() throws {
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        let messages: [DataMessage] = [
            .records([]), .records(Array(repeating: DataStream.largestRecord, count: 8)),
            .recordsAndWant(records: [DataStream.largestRecord], want: [String(repeating: "w", count: KeyRecordCodec.maxStringBytes)]),
            .recordsAndWant(records: [], want: []), .digestReply(buckets: [], entries: []),
            .digestReply(buckets: Array(0..<ReplicaDigest.bucketCount), entries: []),
            .counters(origin: NodeID(""), slots: []), .countersReply(slots: []), .hello(node: NodeID(String(repeating: "ñ", count: 127))),
            .digest(ReplicaDigest()), .escrowRows([]), .escrowWants([]), .escrowRestore([]),
            .auditEntries([]), .auditEntries(Array(repeating: DataStream.largestAuditEntry, count: ReplicationMachine.auditEntriesPerMessage)),
            .auditDigest(AuditDigest(), reply: true),
        ]
        for message in messages {
            #expect(try decoder.decode(encoder.encode(message)) == message)
        }
    }

    /// Like swift-nio's decoder verifier: every prefix of every valid frame is refused, on a
    /// decoder in the state the frame was written for, and that decoder still reads the whole
    /// frame afterwards — a refused frame changes nothing.
    @Test func everyTruncationIsRejectedAndChangesNothing() throws {
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        for message in Self.stream(seed: 22, rounds: 6) {
            let bytes = Wire.bytes(encoder.encode(message))
            for length in 0..<bytes.count {
                let error = Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ByteBuffer(bytes: bytes[..<length])) }
                #expect(error != nil, "\(message) cut at \(length)")
            }
            #expect(try decoder.decode(ByteBuffer(bytes: bytes)) == message)
            let trailing = Wire.decodeError { () throws(GossipDecodeError) in
                var copy = decoder
                return try copy.decode(ByteBuffer(bytes: bytes + [0]))
            }
            #expect(trailing?.code == .trailingBytes)
        }
    }

    @Test func randomAndMutatedFramesNeverTrap() throws {
        var random = SeededGenerator(seed: 23)
        var encoder = DataStreamEncoder()
        var primed = DataStreamDecoder()
        var valid: [(state: DataStreamDecoder, bytes: [UInt8])] = []
        for message in Self.stream(seed: 24, rounds: 4) {
            let frame = encoder.encode(message)
            valid.append((primed, Wire.bytes(frame)))
            _ = try primed.decode(frame)
        }
        // One decoder goes on after every error, the way a careless shell would use it.
        var careless = primed
        var rejected = 0
        for round in 0..<20_000 {
            let bytes: [UInt8]
            var decoder: DataStreamDecoder
            if round % 2 == 0 {
                var header: [UInt8] = [ClusterEnvelope.version, ClusterMessageKind.allCases.randomElement(using: &random)!.rawValue]
                if round % 8 == 0 { header = [] }
                bytes = header + random.bytes(0...200)
                decoder = primed
            } else {
                let pick = valid[Int(random.next() % UInt64(valid.count))]
                bytes = random.mutated(pick.bytes)
                decoder = pick.state
            }
            do {
                _ = try decoder.decode(ByteBuffer(bytes: bytes))
            } catch {
                rejected += 1
            }
            _ = try? careless.decode(ByteBuffer(bytes: bytes))
        }
        #expect(rejected > 10_000)
        #expect(careless.definedBuckets <= DataStreamLimits.default.maxBucketIDs)
    }

    @Test func countsFromTheWireAreCapped() throws {
        let limits = DataStreamLimits(maxFrameBytes: 64 * 1024, maxRecordsPerFrame: 3, maxIDsPerFrame: 5, maxSlotsPerFrame: 4, maxBucketIDs: 100)
        var encoder = DataStreamEncoder(limits: limits)
        let slot = CounterSlot(bucket: .throttle(name: "ip", windowMs: 1_000), windowIndex: 1, count: 1)
        let entry = ReplicaEntry(id: "key_a", precedence: .live(.zero))
        let row = EscrowRow(ledger: .credits(keyID: "key_a", epoch: .zero, period: 0), quota: 10, spent: 1, given: ["n2": 3])
        let overs: [(String, DataMessage, GossipDecodeError.Code)] = [
            ("records", .records(Array(repeating: DataStream.typicalRecord, count: 4)), .tooLarge),
            ("want", .recordsAndWant(records: [], want: Array(repeating: "key_a", count: 6)), .tooLarge),
            ("entries", .digestReply(buckets: [], entries: Array(repeating: entry, count: 6)), .tooLarge),
            ("slots", .countersReply(slots: Array(repeating: slot, count: 5)), .tooLarge),
            ("escrow rows", .escrowRows(Array(repeating: row, count: 5)), .tooLarge),
            ("escrow wants", .escrowWants(Array(repeating: EscrowWant(ledger: row.ledger, quota: 1, amount: 1), count: 5)), .tooLarge),
            ("negative escrow amount", .escrowRows([EscrowRow(ledger: row.ledger, quota: 1, spent: 0, given: ["n2": -1])]), .invalidField),
            ("negative want", .escrowWants([EscrowWant(ledger: row.ledger, quota: 1, amount: -1)]), .invalidField),
            ("frame", .records([DataStream.largestRecord, DataStream.largestRecord]), .tooLarge),
            ("bucket index", .digestReply(buckets: [ReplicaDigest.bucketCount], entries: []), .tooLarge),
            ("negative bucket index", .digestReply(buckets: [-1], entries: []), .tooLarge),
            ("digest size", .digest(ReplicaDigest(buckets: [1, 2, 3])), .invalidField),
            ("digest buckets", .digestReply(buckets: Array(repeating: 0, count: ReplicaDigest.bucketCount + 1), entries: []), .tooLarge),
        ]
        for (field, message, code) in overs {
            var decoder = DataStreamDecoder(limits: limits)
            let frame = encoder.encode(message)
            #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(frame) }?.code == code, "\(field)")
        }
        let atTheCaps: [DataMessage] = [
            .records(Array(repeating: DataStream.typicalRecord, count: 3)),
            .recordsAndWant(records: [], want: Array(repeating: "key_a", count: 5)),
            .digestReply(buckets: [ReplicaDigest.bucketCount - 1], entries: Array(repeating: entry, count: 5)),
        ]
        for message in atTheCaps {
            var decoder = DataStreamDecoder(limits: limits)
            #expect(try decoder.decode(encoder.encode(message)) == message)
        }
    }

    /// A peer gives a restarted member its counts back in `countersReply` messages of
    /// `ReplicationMachine.slotsPerCountersReply` slots: a full one, every slot a bucket not
    /// yet defined on the stream and named as long as names go, passes the default caps.
    @Test func aFullCountersReplyFitsTheDefaultCaps() throws {
        let slots = (0..<ReplicationMachine.slotsPerCountersReply).map { index in
            CounterSlot(
                bucket: .keyLimit(keyID: "key_" + String(repeating: "k", count: 60) + "\(index)", limit: String(repeating: "l", count: 64), windowMs: 60_000),
                windowIndex: 29_000_000, count: 1_000_000)
        }
        let message = DataMessage.countersReply(slots: slots)
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        let frame = encoder.encode(message)
        #expect(frame.readableBytes <= DataStreamLimits.default.maxFrameBytes)
        #expect(try decoder.decode(frame) == message)
    }

    @Test func aNegativeCountIsRefused() {
        var frame = ByteBuffer()
        frame.writeClusterHeader(.countersReply)
        frame.writeInteger(UInt8(0))
        frame.writeVarint(1)
        frame.writeVarint(0)
        frame.writeCounterBucket(.throttle(name: "ip", windowMs: 1_000))
        frame.writeZigZag(5)
        frame.writeVarint(UInt64(bitPattern: -1))
        var decoder = DataStreamDecoder()
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(frame) }?.code == .invalidField)
        #expect(decoder.definedBuckets == 0)
    }
}
