import GatehouseCore
import GatehouseWire
import NIOCore
import Testing

/// The cursor writes into a reservation made once per reply; these tests hold it to the
/// bytes `ByteBuffer`'s own RESP writers produce, and every reply to its reservation.
@Suite("RESP reply cursor")
struct RESPReplyCursorTests {
    static let integers: [Int64] = [0, 1, 9, 10, -1, -9, -10, 99, 100, 12_345, Int64.max, Int64.min, Int64.min + 1]

    @Test(arguments: [RESPVersion.v2, .v3])
    func writesTheSameBytesAsTheByteBufferWriters(version: RESPVersion) {
        let texts = ["", "a", "orders:*", "ключ", String(repeating: "x", count: 300)]
        var expected = ByteBuffer()
        var written = ByteBuffer()
        for value in Self.integers {
            expected.writeRESPInteger(value)
            expected.writeRESPOptionalInteger(value, version)
        }
        for text in texts {
            expected.writeRESPBulkString(text)
            expected.writeRESPOptionalBulkString(text, version)
        }
        expected.writeRESPOptionalInteger(nil, version)
        expected.writeRESPOptionalBulkString(nil, version)
        expected.writeRESPBoolean(true, version)
        expected.writeRESPBoolean(false, version)
        expected.writeRESPArrayHeader(count: 3)
        expected.writeRESPMapHeader(count: 5, version)

        let reservation = 4096
        written.writeRESPReply(reserving: reservation) { out in
            for value in Self.integers {
                out.writeInteger(value)
                out.writeOptionalInteger(value, version)
            }
            for text in texts {
                out.writeBulkString(text)
                out.writeOptionalBulkString(text, version)
            }
            out.writeOptionalInteger(nil, version)
            out.writeOptionalBulkString(nil, version)
            out.writeBoolean(true, version)
            out.writeBoolean(false, version)
            out.writeArrayHeader(count: 3)
            out.writeMapHeader(count: 5, version)
        }
        #expect(Array(written.readableBytesView) == Array(expected.readableBytesView))
    }

    /// The largest answer a key can produce (most scopes, longest scopes, most meta, extreme
    /// numbers) fits its reservation and reads back whole.
    @Test(arguments: [RESPVersion.v2, .v3])
    func theLargestAnswerFitsItsReservation(version: RESPVersion) throws {
        var answer = VerifyAnswer(code: .rateLimited)
        answer.keyID = String(repeating: "k", count: 64)
        answer.owner = String(repeating: "é", count: 100)
        answer.scopes = (0..<VerifyArguments.maxScopes).map { String(repeating: "\($0 % 10)", count: VerifyArguments.maxScopeBytes) }
        answer.meta = Dictionary(uniqueKeysWithValues: (0..<64).map { ("field\($0)", String(repeating: "v", count: 40)) })
        answer.limit = Int64.max
        answer.remaining = Int64.min
        answer.resetMs = Int64.max
        answer.retryAfterMs = Int64.min
        answer.creditsRemaining = Int64.min
        var buffer = ByteBuffer()
        buffer.writeVerifyAnswer(answer, version)
        let value = try #require(try RESPValueParser().parse(&buffer))
        #expect(buffer.readableBytes == 0)
        #expect(VerifyAnswer(resp: value) == answer)
    }
}
