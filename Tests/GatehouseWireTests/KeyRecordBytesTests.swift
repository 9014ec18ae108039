import GatehouseCore
import GatehouseWire
import NIOCore
import Testing

/// The record codec's bytes are a stored format (the record log on disk) and a wire format
/// between versions: these records' bytes were taken from the encoder before it wrote through
/// `RawBytesWriter`, and every later encoder must write exactly them.
@Suite("Key record bytes")
struct KeyRecordBytesTests {
    /// Every optional field, every extension, and meta in more than one key.
    static let everyField: KeyRecord = {
        var record = DataStream.typicalRecord
        record.expiresAt = -1_234_567
        record.credits = 0
        record.creditsSetAt = HybridTimestamp(wallMs: 1_767_225_600_001, logical: 300, node: "nøde-2")
        record.revokedAt = 1_767_225_999_999
        record.meta = ["zeta": "last", "alpha": "first", "mid": ""]
        record.retiredSecrets = [
            RetiredSecret(lookup: LookupHash(w0: 9, w1: 8, w2: 7, w3: 6), start: "old_1", validUntil: 99, form: .sha256),
            RetiredSecret(lookup: LookupHash(w0: 1, w1: 2, w2: 3, w3: 4), start: "", validUntil: -5),
        ]
        record.secretForm = .foreign
        record.holders = ["n1", "n2", "n3"]
        record.refill = CreditRefill(amount: 1_000, interval: .monthly)
        record.limits.append(RateLimit(name: "day", limit: 500, windowMs: 86_400_000, strict: true))
        return record
    }()

    static func hex(_ record: KeyRecord) -> String {
        Wire.bytes(KeyRecordCodec.encode(record)).map { String(format: "%02x", $0) }.joined()
    }

    @Test func aTypicalRecordKeepsItsBytes() {
        let expected =
            "1a6b65795f3762533278516d344c6b5039765431775a6338724e610123456789abcdef000000000000002affffffffff"
            + "ffffff000000000000000707676b5f4162336410636865636b6f757420736572766963650a616363745f313233343521"
            + "80a0d5edee66c0eff9edee6602086f72646572733a2a0d7061796d656e74733a726561640204686f7572d00f80bab703"
            + "067365636f6e6428d00f01047465616d087061796d656e74730080a0d5edee6600026e31"
        #expect(Self.hex(DataStream.typicalRecord) == expected)
    }

    @Test func aRecordWithEveryFieldKeepsItsBytes() {
        let expected =
            "1a6b65795f3762533278516d344c6b5039765431775a6338724e610123456789abcdef000000000000002affffffffff"
            + "ffffff000000000000000707676b5f4162336410636865636b6f757420736572766963650a616363745f3132333435bf"
            + "80a0d5edee668dda96010082a0d5edee66ac02076ec3b864652d32fe8986eeee66c0eff9edee6602086f72646572733a"
            + "2a0d7061796d656e74733a726561640304686f7572d00f80bab703067365636f6e6428d00f03646179e80780f0b25203"
            + "05616c706861056669727374036d696400047a657461046c617374020000000000000009000000000000000800000000"
            + "000000070000000000000006056f6c645f31c60100000000000000010000000000000002000000000000000300000000"
            + "00000004000980a0d5edee6600026e310f03026e31026e32026e3304d00f01010200"
        #expect(Self.hex(Self.everyField) == expected)
    }

    @Test func theLargestRecordKeepsItsBytes() {
        let bytes = Wire.bytes(KeyRecordCodec.encode(DataStream.largestRecord))
        #expect(bytes.count == 97026)
        #expect(CRC32.checksum(bytes) == 724901938)
    }

    /// Appended to a buffer that already holds bytes, a record lands after them, whole.
    @Test func aRecordWrittenAfterOtherBytesReadsBack() throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        let written = buffer.writeKeyRecord(Self.everyField)
        #expect(written == buffer.readableBytes - 3)
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(try KeyRecordCodec.decode(buffer) == Self.everyField)
    }
}
