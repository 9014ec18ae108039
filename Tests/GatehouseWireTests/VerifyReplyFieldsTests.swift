import GatehouseCore
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// `VERIFY … FIELDS name,…`: which names are accepted, what hostile lists get, and the
/// compact reply carrying exactly the fields asked for.
@Suite struct VerifyReplyFieldsTests {
    static let key = "gh_live_5ECRETkeyMATERIAL0123456789abcdef"

    static func parse(_ options: [String]) throws(CommandError) -> VerifyArguments {
        try VerifyArguments(parsing: Wire.argv(["VERIFY", key] + options))
    }

    static func failure(_ options: [String], sourceLocation: SourceLocation = #_sourceLocation) -> CommandError? {
        Wire.commandError(sourceLocation: sourceLocation) { () throws(CommandError) in try parse(options) }
    }

    @Test func allFieldsWithoutTheOption() throws {
        #expect(try Self.parse([]).fields == .all)
        #expect(VerifyReplyFields.all.count == AnswerField.verify.count)
    }

    @Test func verdictFields() throws {
        let arguments = try Self.parse(["SCOPE", "read", "FIELDS", "code,remaining"])
        #expect(arguments.fields == [.code, .remaining])
        #expect(arguments.scopes == ["read"])
    }

    @Test func everyFieldNameIsAcceptedInAnyCase() throws {
        for (name, field) in zip(AnswerField.verify, [
            VerifyReplyFields.valid, .code, .keyID, .owner, .scopes, .meta, .limit, .remaining, .resetMs, .retryAfterMs,
            .creditsRemaining,
        ]) {
            #expect(try Self.parse(["FIELDS", name]).fields == field)
            #expect(try Self.parse(["fields", name.uppercased()]).fields == field)
        }
        #expect(try Self.parse(["FIELDS", AnswerField.verify.joined(separator: ",")]).fields == .all)
        #expect(try Self.parse(["FIELDS", AnswerField.verify.reversed().joined(separator: ",")]).fields == .all)
    }

    @Test(arguments: [
        "", ",", "code,", ",code", "code,,remaining", "cod", "codes", "code remaining", " code", "code;remaining",
        "key-id", "valid\u{0}", "remaining,code,remainin", "\u{FF}\u{FE}",
    ])
    func malformedListsAreRefusedWithoutEchoingThem(list: String) throws {
        let error = try #require(Self.failure(["FIELDS", list]))
        #expect(error.code == .wrongArguments)
        #expect(error.message.contains("FIELDS"))
        #expect(!error.description.contains(Self.key))
        if list.utf8.count > 6 { #expect(!error.message.contains(list), "the list is not repeated back") }
    }

    @Test func aFieldNamedTwiceIsRefused() throws {
        let error = try #require(Self.failure(["FIELDS", "code,remaining,code"]))
        #expect(error.code == .wrongArguments)
        #expect(error.message.contains("twice"))
    }

    @Test func theOptionGivenTwiceIsRefused() throws {
        let error = try #require(Self.failure(["FIELDS", "code", "FIELDS", "remaining"]))
        #expect(error.code == .wrongArguments)
    }

    @Test func theOptionWithoutAValueIsRefused() throws {
        let error = try #require(Self.failure(["FIELDS"]))
        #expect(error.code == .wrongArguments)
    }

    @Test func anOverlongListIsRefusedAsTooLarge() throws {
        let list = Array(repeating: "code", count: 40).joined(separator: ",")
        #expect(list.utf8.count > VerifyReplyFields.maxListBytes)
        let error = try #require(Self.failure(["FIELDS", list]))
        #expect(error.code == .tooLarge)
        #expect(!error.message.contains("code,code"))
    }

    @Test func randomByteListsNeverCrashAndOnlyKnownNamesPass() throws {
        var rng = SeededGenerator(seed: 0xF1E1D5)
        let alphabet = Array("codeCODE_remaining,valid\u{0}\r\n ".utf8) + [0xFF]
        for _ in 0..<2000 {
            let bytes = rng.bytes(0...40, from: alphabet)
            let command = [ByteBuffer(string: "VERIFY"), ByteBuffer(string: Self.key), ByteBuffer(string: "FIELDS"), ByteBuffer(bytes: bytes)]
            do {
                let parsed = try VerifyArguments(parsing: command)
                let names = String(decoding: bytes, as: UTF8.self).lowercased().split(separator: ",", omittingEmptySubsequences: false)
                #expect(names.allSatisfy { AnswerField.verify.contains(String($0)) })
                #expect(parsed.fields.count == names.count)
            } catch {
                #expect(error.code == .wrongArguments || error.code == .tooLarge)
            }
        }
    }

    static var answer: VerifyAnswer {
        var answer = VerifyAnswer(code: .rateLimited)
        answer.keyID = "key_01HZY"
        answer.owner = "team-payments"
        answer.scopes = ["read", "orders:*"]
        answer.meta = ["tier": "gold"]
        answer.limit = 100
        answer.remaining = 0
        answer.resetMs = 59_999
        answer.retryAfterMs = 1_234
        answer.creditsRemaining = 7
        return answer
    }

    @Test(arguments: [RESPVersion.v2, .v3])
    func theCompactReplyCarriesOnlyTheFieldsAskedFor(version: RESPVersion) throws {
        let value = try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version, fields: [.remaining, .code]) }
        #expect(AnswerEncodingTests.keys(value) == ["code", "remaining"])
        let fields = try #require(value.fields)
        #expect(fields["code"]?.string == "RATE_LIMITED")
        #expect(fields["remaining"]?.integer == 0)
    }

    @Test func theVerdictReplyIsSmall() throws {
        var buffer = ByteBuffer()
        buffer.writeVerifyAnswer(Self.answer, .v2, fields: [.code, .remaining])
        #expect(String(buffer: buffer) == "*4\r\n$4\r\ncode\r\n$12\r\nRATE_LIMITED\r\n$9\r\nremaining\r\n:0\r\n")
    }

    @Test(arguments: [RESPVersion.v2, .v3])
    func everySubsetMatchesTheFullReplyFiltered(version: RESPVersion) throws {
        var rng = SeededGenerator(seed: version == .v2 ? 0xF1E1D2 : 0xF1E1D3)
        let full = try #require(try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version) }.fields)
        for _ in 0..<200 {
            let fields = VerifyReplyFields(rawValue: UInt16.random(in: 1...VerifyReplyFields.all.rawValue, using: &rng))
            let value = try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version, fields: fields) }
            let keys = AnswerEncodingTests.keys(value).compactMap { $0 }
            #expect(keys.count == fields.count)
            #expect(keys == AnswerField.verify.filter { keys.contains($0) }, "in the order of AnswerField.verify")
            let got = try #require(value.fields)
            for name in keys { #expect(got[name] == full[name], "\(name)") }
        }
    }

    @Test func requestIDIsNamedApartFromTheAnswersFields() throws {
        let plain = try Self.parse(["RID", "rid-1"])
        #expect(plain.fields == .all && !plain.fieldsListed)
        let named = try Self.parse(["FIELDS", "code,Request_Id"])
        #expect(named.fields == [.code, .requestID] && named.fieldsListed)
        #expect(named.fields.count == 1, "count is of the answer's fields")
        let every = (AnswerField.verify + [AnswerField.requestID]).joined(separator: ",")
        #expect(every.utf8.count <= VerifyReplyFields.maxListBytes)
        #expect(try Self.parse(["FIELDS", every]).fields == VerifyReplyFields.all.union(.requestID))
    }

    @Test(arguments: [RESPVersion.v2, .v3])
    func aRequestIDComesLastInFullAndCompactReplies(version: RESPVersion) throws {
        let full = try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version, requestID: "rid-7") }
        #expect(AnswerEncodingTests.keys(full) == AnswerField.verify + [AnswerField.requestID])
        #expect(full.fields?["request_id"]?.string == "rid-7")
        let compact = try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version, fields: [.code, .requestID], requestID: "rid-8") }
        #expect(AnswerEncodingTests.keys(compact) == ["code", "request_id"])
        #expect(compact.fields?["request_id"]?.string == "rid-8")
        let longest = String(repeating: "r", count: VerifyArguments.maxRequestIDBytes)
        let long = try Wire.roundTrip { $0.writeVerifyAnswer(Self.answer, version, fields: [.code], requestID: longest) }
        #expect(long.fields?["request_id"]?.string == longest)
    }
}
