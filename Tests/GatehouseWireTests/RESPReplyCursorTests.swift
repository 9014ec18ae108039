import GatehouseCore
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// The cursor writes into a reservation made once per reply; these tests hold it to the
/// bytes RESP specifies, and every reply to its reservation.
@Suite("RESP reply cursor")
struct RESPReplyCursorTests {
    /// One write and the bytes RESP says it must produce, per protocol version.
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var write: @Sendable (inout RESPReplyCursor, RESPVersion) -> Void
        var v2: String
        var v3: String
    }

    static let cases: [Case] = [
        Case(description: "0", write: { out, _ in out.writeInteger(0) }, v2: ":0\r\n", v3: ":0\r\n"),
        Case(description: "9", write: { out, _ in out.writeInteger(9) }, v2: ":9\r\n", v3: ":9\r\n"),
        Case(description: "10", write: { out, _ in out.writeInteger(10) }, v2: ":10\r\n", v3: ":10\r\n"),
        Case(description: "-1", write: { out, _ in out.writeInteger(-1) }, v2: ":-1\r\n", v3: ":-1\r\n"),
        Case(description: "max", write: { out, _ in out.writeInteger(.max) }, v2: ":9223372036854775807\r\n", v3: ":9223372036854775807\r\n"),
        Case(description: "min", write: { out, _ in out.writeInteger(.min) }, v2: ":-9223372036854775808\r\n", v3: ":-9223372036854775808\r\n"),
        Case(description: "no integer", write: { out, version in out.writeOptionalInteger(nil, version) }, v2: "$-1\r\n", v3: "_\r\n"),
        Case(description: "some integer", write: { out, version in out.writeOptionalInteger(42, version) }, v2: ":42\r\n", v3: ":42\r\n"),
        Case(description: "empty bulk", write: { out, _ in out.writeBulkString("") }, v2: "$0\r\n\r\n", v3: "$0\r\n\r\n"),
        Case(description: "utf-8 bulk", write: { out, _ in out.writeBulkString("ключ") }, v2: "$8\r\nключ\r\n", v3: "$8\r\nключ\r\n"),
        Case(description: "no bulk", write: { out, version in out.writeOptionalBulkString(nil, version) }, v2: "$-1\r\n", v3: "_\r\n"),
        Case(description: "true", write: { out, version in out.writeBoolean(true, version) }, v2: ":1\r\n", v3: "#t\r\n"),
        Case(description: "false", write: { out, version in out.writeBoolean(false, version) }, v2: ":0\r\n", v3: "#f\r\n"),
        Case(description: "array", write: { out, _ in out.writeArrayHeader(count: 3) }, v2: "*3\r\n", v3: "*3\r\n"),
        Case(description: "map", write: { out, version in out.writeMapHeader(count: 5, version) }, v2: "*10\r\n", v3: "%5\r\n"),
    ]

    @Test(arguments: cases)
    func writesWhatRESPSpecifies(_ example: Case) {
        for version in [RESPVersion.v2, .v3] {
            var buffer = ByteBuffer()
            buffer.writeRESPReply(reserving: 64) { example.write(&$0, version) }
            #expect(String(buffer: buffer) == (version == .v2 ? example.v2 : example.v3), "RESP\(version.rawValue)")
        }
    }

    /// Decimals are written two digits per division: every length and both signs, against
    /// the standard library's formatting.
    @Test func decimalsMatchTheStandardLibrary() {
        var values: [Int64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, .max, .min, .max - 1, .min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            values += [power - 1, power, power + 1, -(power - 1), -power, -(power + 1)]
        }
        var rng = SeededGenerator(seed: 0xDEC1)
        values += (0..<2000).map { _ in Int64.random(in: .min ... .max, using: &rng) >> Int64.random(in: 0...62, using: &rng) }
        for value in values {
            var buffer = ByteBuffer()
            buffer.writeRESPReply(reserving: RESPReplyCursor.maxDecimalBytes) { $0.writeDecimal(value) }
            #expect(String(buffer: buffer) == String(value))
        }
    }

    @Test func aLongBulkStringIsFramedByItsByteCount() {
        let text = String(repeating: "x", count: 300)
        var buffer = ByteBuffer()
        buffer.writeRESPBulkString(text)
        #expect(String(buffer: buffer) == "$300\r\n\(text)\r\n")
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
