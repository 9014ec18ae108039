import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

@Suite("Counter bucket dictionary")
struct CounterDictionaryTests {
    static let origin = NodeID("n1")

    /// Buckets the way hot keys make them: a key id and a named limit.
    static func keyBuckets(_ count: Int) -> [CounterBucket] {
        (0..<count).map { .keyLimit(keyID: "key_\(String(repeating: "x", count: 18))\(1_000 + $0)", limit: "minute", windowMs: 60_000) }
    }

    /// A hand-written counters frame: `[flags][count]`, then the given slot bytes.
    static func frame(flags: UInt8 = 0, slots: Int, _ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeClusterHeader(.countersReply)
        frame.writeInteger(flags)
        frame.writeVarint(UInt64(slots))
        body(&frame)
        return frame
    }

    static func definition(_ index: Int, into frame: inout ByteBuffer) {
        frame.writeVarint(0)
        frame.writeCounterBucket(.throttle(name: "ip:\(index)", windowMs: 1_000))
        frame.writeZigZag(100)
        frame.writeVarint(1)
    }

    @Test func aSlotAfterItsDefinitionTakesFourBytes() throws {
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        let bucket = Self.keyBuckets(1)[0]
        let first = encoder.encode(.counters(origin: Self.origin, slots: [CounterSlot(bucket: bucket, windowIndex: 29_450_000, count: 3)]))
        _ = try decoder.decode(first)
        let empty = encoder.encode(.counters(origin: Self.origin, slots: [])).readableBytes
        let next = CounterSlot(bucket: bucket, windowIndex: 29_450_001, count: 500)
        let frame = encoder.encode(.counters(origin: Self.origin, slots: [next]))
        #expect(try decoder.decode(frame) == .counters(origin: Self.origin, slots: [next]))
        // Id, window delta, and a count under 16,384: one, one and two bytes.
        #expect(frame.readableBytes - empty == 4)
        #expect(first.readableBytes - empty > 30)
    }

    @Test func aThousandSlotFrameAfterDefinitionsIsUnderSixKilobytes() throws {
        var random = SeededGenerator(seed: 40)
        var encoder = DataStreamEncoder()
        var decoder = DataStreamDecoder()
        let buckets = Self.keyBuckets(1_000)
        var window: Int64 = 29_450_000
        let definitions = buckets.map { CounterSlot(bucket: $0, windowIndex: window, count: Int64(random.next() % 5_000)) }
        let first = encoder.encode(.counters(origin: Self.origin, slots: definitions))
        #expect(try decoder.decode(first) == .counters(origin: Self.origin, slots: definitions))
        for _ in 0..<20 {
            window += 1
            let slots = buckets.map { CounterSlot(bucket: $0, windowIndex: window - Int64(random.next() % 2), count: Int64(random.next() % 5_000)) }
            let frame = encoder.encode(.counters(origin: Self.origin, slots: slots))
            #expect(try decoder.decode(frame) == .counters(origin: Self.origin, slots: slots))
            // 1000 slots: ids of one or two bytes, one-byte deltas, counts of one or two bytes.
            #expect(frame.readableBytes <= 5_000)
            #expect(frame.readableBytes <= 6_000)
        }
        #expect(first.readableBytes > 40_000)
    }

    @Test func theDictionaryFollowsTheStreamThroughResets() throws {
        var random = SeededGenerator(seed: 41)
        let limits = DataStreamLimits(maxSlotsPerFrame: 40, maxBucketIDs: 64)
        var encoder = DataStreamEncoder(limits: limits)
        var decoder = DataStreamDecoder(limits: limits)
        let pool = (0..<300).map { _ in random.counterBucket() }
        for round in 0..<600 {
            // Mostly a hot set that fits, sometimes a burst of new buckets that does not.
            let from = round % 50 < 40 ? Array(pool.prefix(30)) : pool
            let slots = (0..<Int.random(in: 0...40, using: &random)).map { _ in random.counterSlot(of: from, window: Int64(round)) }
            let message: DataMessage = round % 3 == 0 ? .countersReply(slots: slots) : .counters(origin: Self.origin, slots: slots)
            #expect(try decoder.decode(encoder.encode(message)) == message)
            #expect(decoder.definedBuckets == encoder.definedBuckets)
            #expect(encoder.definedBuckets <= limits.maxBucketIDs)
        }
        #expect(encoder.resets > 5)
    }

    @Test func aPeerCannotGrowTheDictionaryPastItsBound() throws {
        let limits = DataStreamLimits(maxSlotsPerFrame: 8, maxBucketIDs: 8)
        var decoder = DataStreamDecoder(limits: limits)
        _ = try decoder.decode(Self.frame(slots: 8) { for index in 0..<8 { Self.definition(index, into: &$0) } })
        #expect(decoder.definedBuckets == 8)
        let ninth = Self.frame(slots: 1) { Self.definition(8, into: &$0) }
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ninth) }?.code == .tooLarge)
        #expect(decoder.definedBuckets == 8)
        let reset = Self.frame(flags: 1, slots: 1) { Self.definition(8, into: &$0) }
        #expect(try decoder.decode(reset) == .countersReply(slots: [CounterSlot(bucket: .throttle(name: "ip:8", windowMs: 1_000), windowIndex: 100, count: 1)]))
        #expect(decoder.definedBuckets == 1)
    }

    @Test func idsNeverGivenAreRefused() throws {
        var decoder = DataStreamDecoder()
        let unknown = Self.frame(slots: 1) { frame in
            frame.writeVarint(1)
            frame.writeZigZag(0)
            frame.writeVarint(1)
        }
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(unknown) }?.code == .invalidField)
        let flags = Self.frame(flags: 2, slots: 0) { _ in }
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(flags) }?.code == .invalidField)
        // Defined in a frame that then fails: the definition does not survive it.
        var garbage = Self.frame(slots: 1) { Self.definition(0, into: &$0) }
        garbage.writeInteger(UInt8(0))
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(garbage) }?.code == .trailingBytes)
        #expect(decoder.definedBuckets == 0)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(unknown) }?.code == .invalidField)
    }

    /// A failed frame — even one that reset the dictionary and moved windows — leaves the
    /// decoder where it was, so it reads the encoder's next frame as if nothing happened.
    @Test func aFailedFrameIsUndoneWhole() throws {
        let limits = DataStreamLimits(maxSlotsPerFrame: 4, maxBucketIDs: 4)
        var encoder = DataStreamEncoder(limits: limits)
        var decoder = DataStreamDecoder(limits: limits)
        let buckets = (0..<6).map { CounterBucket.throttle(name: "b\($0)", windowMs: 10) }
        let frames = [
            [0, 1, 2, 3].map { CounterSlot(bucket: buckets[$0], windowIndex: 50, count: 1) },
            [0, 1, 0, 2].map { CounterSlot(bucket: buckets[$0], windowIndex: 60, count: 2) },
            [4, 5, 0].map { CounterSlot(bucket: buckets[$0], windowIndex: 70, count: 3) },
            [0, 4, 5].map { CounterSlot(bucket: buckets[$0], windowIndex: 75, count: 4) },
        ]
        for slots in frames {
            let bytes = Wire.bytes(encoder.encode(.countersReply(slots: slots)))
            for cut in [bytes.count - 1, bytes.count / 2] {
                _ = Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ByteBuffer(bytes: bytes[..<cut])) }
            }
            _ = Wire.decodeError { () throws(GossipDecodeError) in try decoder.decode(ByteBuffer(bytes: bytes + [7])) }
            #expect(try decoder.decode(ByteBuffer(bytes: bytes)) == .countersReply(slots: slots))
        }
        #expect(encoder.resets == 1)
    }
}
