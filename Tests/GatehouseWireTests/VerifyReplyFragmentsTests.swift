import GatehouseCore
import GatehouseWire
import NIOCore
import Testing

/// The verify reply is written from precomputed fragments; these tests hold the fragments
/// to the field list and to what a client reads back.
@Suite("Verify reply fragments")
struct VerifyReplyFragmentsTests {
    static func answers() -> [VerifyAnswer] {
        VerifyCode.allCases.flatMap { code -> [VerifyAnswer] in
            var full = VerifyAnswer(code: code)
            full.keyID = "key_0123456789"
            full.owner = "acct_42"
            full.scopes = ["read", "orders:*"]
            full.meta = ["tier": "gold", "region": "eu"]
            full.limit = 1000
            full.remaining = 999
            full.resetMs = 12_345
            full.retryAfterMs = 0
            full.creditsRemaining = 7
            return [VerifyAnswer(code: code), full]
        }
    }

    @Test(arguments: [RESPVersion.v2, .v3])
    func everyAnswerReadsBackAsWritten(version: RESPVersion) throws {
        for answer in Self.answers() {
            var buffer = ByteBuffer()
            buffer.writeVerifyAnswer(answer, version)
            let value = try #require(try RESPValueParser().parse(&buffer))
            #expect(buffer.readableBytes == 0)
            #expect(VerifyAnswer(resp: value) == answer)
            let fields = try #require(value.fields)
            #expect(Set(fields.keys) == Set(AnswerField.verify))
        }
    }

    @Test func codesAreWrittenAsTheirNames() throws {
        for code in VerifyCode.allCases {
            var buffer = ByteBuffer()
            buffer.writeVerifyAnswer(VerifyAnswer(code: code), .v2)
            let fields = try #require(try RESPValueParser().parse(&buffer)?.fields)
            #expect(fields["code"]?.string == code.rawValue)
        }
    }
}
