import Foundation
import GatehouseCore
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

@Suite("Key record codec")
struct KeyRecordCodecTests {
    @Test func randomRecordsRoundTrip() throws {
        var random = SeededGenerator(seed: 14)
        var sawNil = false
        var sawValue = false
        for _ in 0..<2_000 {
            let record = random.keyRecord()
            sawNil = sawNil || record.expiresAt == nil || record.creditsSetAt == nil
            sawValue = sawValue || (record.expiresAt != nil && record.creditsSetAt != nil && record.revokedAt != nil)
            #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(record)) == record)
        }
        #expect(sawNil && sawValue)
    }

    @Test func theLargestRecordRoundTrips() throws {
        let bytes = KeyRecordCodec.encode(DataStream.largestRecord)
        #expect(try KeyRecordCodec.decode(bytes) == DataStream.largestRecord)
    }

    @Test func equalRecordsGiveEqualBytes() {
        var record = DataStream.typicalRecord
        record.meta = Dictionary(uniqueKeysWithValues: (0..<50).map { ("k\($0)", "v\($0)") })
        let rebuilt = Dictionary(uniqueKeysWithValues: record.meta.sorted { $0.key > $1.key }.map { ($0.key, $0.value) })
        var other = record
        other.meta = rebuilt
        #expect(Wire.bytes(KeyRecordCodec.encode(record)) == Wire.bytes(KeyRecordCodec.encode(other)))
    }

    /// The measured size, kept in step with the report: a typical record takes under two
    /// fifths of its compact JSON (180 bytes against 470).
    @Test func aTypicalRecordIsSmall() throws {
        let binary = KeyRecordCodec.encode(DataStream.typicalRecord).readableBytes
        let json = try JSONEncoder().encode(DataStream.typicalRecord).count
        #expect(binary == 180)
        #expect(binary * 5 < json * 2)
    }

    @Test func everyTruncationIsRejected() {
        var random = SeededGenerator(seed: 15)
        for record in [DataStream.typicalRecord, DataStream.largestRecord, random.keyRecord(), random.keyRecord()] {
            let bytes = Wire.bytes(KeyRecordCodec.encode(record))
            // Every cut of the small records; of the 90 KB one, every cut near its ends and a
            // spread between (every cut of it would take minutes in a debug build).
            let cuts = bytes.count < 4_096
                ? Array(0..<bytes.count)
                : Array(0..<2_048) + Array(stride(from: 2_048, to: bytes.count - 2_048, by: 61)) + Array((bytes.count - 2_048)..<bytes.count)
            for length in cuts {
                let error = Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes[..<length])) }
                #expect(error?.code == .truncated, "at \(length) of \(bytes.count)")
            }
            let error = Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes + [0])) }
            #expect(error?.code == .trailingBytes)
        }
    }

    /// One past each cap: what a hostile peer could send, since the encoder writes any record.
    static let overflows: [(field: String, apply: @Sendable (inout KeyRecord) -> Void)] = [
        ("id", { $0.id = String(repeating: "i", count: KeyRecordCodec.maxStringBytes + 1) }),
        ("name", { $0.name = String(repeating: "é", count: KeyRecordCodec.maxStringBytes / 2 + 1) }),
        ("scope", { $0.scopes = [String(repeating: "s", count: KeyRecordCodec.maxStringBytes + 1)] }),
        ("scopes", { $0.scopes = Array(repeating: "s", count: KeyRecordCodec.maxScopes + 1) }),
        ("limits", { $0.limits = Array(repeating: .defaultHourly, count: KeyRecordCodec.maxLimits + 1) }),
        ("retired", {
            $0.retiredSecrets = Array(repeating: RetiredSecret(lookup: $0.lookup, start: "s", validUntil: 1), count: KeyRecordCodec.maxRetiredSecrets + 1)
        }),
        ("meta value", { $0.meta = ["k": String(repeating: "v", count: KeyRecordCodec.maxMetaBytes)] }),
        ("meta key", { $0.meta = [String(repeating: "k", count: KeyRecordCodec.maxStringBytes + 1): ""] }),
        ("meta budget", { $0.meta = Dictionary(uniqueKeysWithValues: (0..<5).map { (String($0), String(repeating: "v", count: 1_000)) }) }),
        ("timestamp node", { $0.version.node = String(repeating: "n", count: KeyRecordCodec.maxStringBytes + 1) }),
        ("holders", { $0.holders = (0...KeyRecordCodec.maxHolders).map { "n\($0)" } }),
        ("holder", { $0.holders = [String(repeating: "h", count: KeyRecordCodec.maxStringBytes + 1)] }),
    ]

    /// Holders and strict limits travel as extensions; a record without them is encoded as
    /// before (no extension bytes).
    @Test func holdersAndStrictLimitsRoundTrip() throws {
        var record = DataStream.typicalRecord
        let plain = Wire.bytes(KeyRecordCodec.encode(record))
        record.holders = ["n1", "n2", "n3"]
        record.refill = CreditRefill(amount: 1_000, interval: .monthly)
        record.limits = [RateLimit(name: "second", limit: 10, windowMs: 1_000), RateLimit(name: "day", limit: 500, windowMs: 86_400_000, strict: true)]
        #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(record)) == record)
        var strictOnly = DataStream.typicalRecord
        strictOnly.limits = [RateLimit(name: "minute", limit: 10, windowMs: 60_000, strict: true)]
        #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(strictOnly)) == strictOnly)
        #expect(try KeyRecordCodec.decode(ByteBuffer(bytes: plain)) == DataStream.typicalRecord)
        var daily = DataStream.typicalRecord
        daily.refill = CreditRefill(amount: 0, interval: .daily)
        #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(daily)) == daily)
    }

    @Test func importedSecretFormsRoundTripAndNativeRecordsKeepTheirBytes() throws {
        let native = DataStream.typicalRecord
        var foreign = native
        foreign.secretForm = .foreign
        #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(foreign)) == foreign)
        var rotated = native
        rotated.retiredSecrets = [RetiredSecret(lookup: native.lookup, start: "abcd", validUntil: 5, form: .sha256)]
        #expect(try KeyRecordCodec.decode(KeyRecordCodec.encode(rotated)) == rotated)
        // Native forms add nothing: the bytes are those of a record from before imports.
        var plainRetired = rotated
        plainRetired.retiredSecrets[0].form = .native
        #expect(Wire.bytes(KeyRecordCodec.encode(plainRetired)).count < Wire.bytes(KeyRecordCodec.encode(rotated)).count)
        // An unknown form byte is refused, not guessed.
        var bytes = Wire.bytes(KeyRecordCodec.encode(foreign))
        // The record's form is the extension's first byte, followed by one byte per retired secret.
        let formAt = bytes.count - 1 - foreign.retiredSecrets.count
        #expect(bytes[formAt] == SecretForm.foreign.rawValue)
        bytes[formAt] = 9
        #expect(throws: GossipDecodeError.self) { try KeyRecordCodec.decode(ByteBuffer(bytes: bytes)) }
    }

    @Test func capsAreEnforced() {
        for overflow in Self.overflows {
            var record = DataStream.typicalRecord
            overflow.apply(&record)
            let error = Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(KeyRecordCodec.encode(record)) }
            #expect(error?.code == .tooLarge, "\(overflow.field)")
        }
    }

    @Test func malformedFieldsAreRejected() throws {
        var bytes = Wire.bytes(KeyRecordCodec.encode(DataStream.typicalRecord))
        // The flags byte follows the id, the lookup hash and three strings.
        let flags = 1 + 26 + 32 + 1 + 7 + 1 + 16 + 1 + 10
        // Bit 7 says extensions follow the version; an extension this release does not know is refused.
        bytes[flags] |= 0x80
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes)) }?.code == .truncated)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes + [0x10])) }?.code == .invalidField)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes + [0x00])) }?.code == .invalidField)
        // Canonical only (found by the key-record fuzz target): no holders, or no strict limit,
        // is written by leaving the extension out, so an empty one is refused.
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes + [0x01, 0x00])) }?.code == .invalidField)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: bytes + [0x02, 0x00])) }?.code == .invalidField)

        var repeated = ByteBuffer()
        repeated.writeKeyRecord(DataStream.typicalRecord)
        let text = Wire.bytes(repeated)
        let team = Array("\u{4}team\u{8}payments".utf8)
        let at = try #require(text.firstRange(of: team))
        var twice = Array(text[..<at.lowerBound]) + team + team + Array(text[at.upperBound...])
        twice[at.lowerBound - 1] = 2
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: twice)) }?.code == .invalidField)

        var notUTF8 = Wire.bytes(KeyRecordCodec.encode(DataStream.typicalRecord))
        notUTF8[1] = 0xFF
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try KeyRecordCodec.decode(ByteBuffer(bytes: notUTF8)) }?.code == .invalidField)
    }

    @Test func varintsTakeOnlyTheirShortestFormAndFitSixtyFourBits() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), .max - 1, .max] {
            var buffer = ByteBuffer()
            let written = buffer.writeVarint(value)
            #expect(written == max(1, (64 - value.leadingZeroBitCount + 6) / 7))
            #expect(try buffer.readVarint("value") == value)
        }
        for value: Int64 in [0, -1, 1, -64, 63, 64, .min, .max] {
            var buffer = ByteBuffer()
            buffer.writeZigZag(value)
            #expect(try buffer.readZigZag("value") == value)
        }
        for bad: [UInt8] in [[0x80, 0x00], [0xFF, 0x80, 0x00], Array(repeating: 0xFF, count: 9) + [0x02], Array(repeating: 0xFF, count: 10) + [0x01]] {
            var buffer = ByteBuffer(bytes: bad)
            #expect(Wire.decodeError { () throws(GossipDecodeError) in try buffer.readVarint("value") }?.code == .invalidField)
        }
        var negative = ByteBuffer()
        negative.writeVarint(UInt64(Int64.max) + 1)
        #expect(Wire.decodeError { () throws(GossipDecodeError) in try negative.readVarintInt64("count") }?.code == .invalidField)
    }
}
