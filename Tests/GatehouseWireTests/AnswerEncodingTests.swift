import GatehouseCore
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// `writeVerifyAnswer`/`VerifyAnswer(resp:)` and `writeThrottleAnswer`/`ThrottleAnswer(resp:)`
/// round-trip in RESP2 and RESP3, with the field names and order of `AnswerField`.
@Suite struct AnswerEncodingTests {
    static let versions: [RESPVersion] = [.v2, .v3]

    static var full: VerifyAnswer {
        var answer = VerifyAnswer(code: .valid)
        answer.keyID = "k_01HZY"
        answer.owner = "team-payments"
        answer.scopes = ["read", "write:orders", "admin"]
        answer.meta = ["tier": "gold", "region": "eu-west", "a": "", "note": "line\r\nbreak"]
        answer.limit = 100
        answer.remaining = 0
        answer.resetMs = 59_999
        answer.retryAfterMs = 1_234
        answer.creditsRemaining = Int64.max
        return answer
    }

    static func written(_ write: (inout ByteBuffer) -> Void) throws -> RESPValue {
        try Wire.roundTrip(write)
    }

    /// The keys of a written answer in wire order, for either map shape.
    static func keys(_ value: RESPValue) -> [String?] {
        switch value {
        case .map(let pairs): pairs.map(\.key.string)
        case .array(let items): stride(from: 0, to: items.count, by: 2).map { items[$0].string }
        default: []
        }
    }

    @Test(arguments: versions)
    func fullVerifyAnswerRoundTrips(version: RESPVersion) throws {
        let value = try Self.written { $0.writeVerifyAnswer(Self.full, version) }
        #expect(VerifyAnswer(resp: value) == Self.full)
    }

    @Test(arguments: versions)
    func emptyVerifyAnswerRoundTrips(version: RESPVersion) throws {
        for code in VerifyCode.allCases {
            let answer = VerifyAnswer(code: code)
            let value = try Self.written { $0.writeVerifyAnswer(answer, version) }
            let back = try #require(VerifyAnswer(resp: value))
            #expect(back == answer)
            #expect(back.keyID == nil && back.owner == nil && back.limit == nil && back.creditsRemaining == nil)
        }
    }

    @Test(arguments: versions)
    func randomVerifyAnswersRoundTrip(version: RESPVersion) throws {
        var rng = SeededGenerator(seed: version == .v2 ? 0xA25_0002 : 0xA25_0003)
        let word = { (rng: inout SeededGenerator) in
            String(decoding: rng.bytes(0...10, from: Array("abz09:_-é \r\n".utf8)), as: UTF8.self)
        }
        let number = { (rng: inout SeededGenerator) -> Int64? in
            Bool.random(using: &rng) ? nil : Int64.random(in: -1...Int64.max, using: &rng)
        }
        for _ in 0..<300 {
            var answer = VerifyAnswer(code: VerifyCode.allCases.randomElement(using: &rng)!)
            answer.keyID = Bool.random(using: &rng) ? word(&rng) : nil
            answer.owner = Bool.random(using: &rng) ? word(&rng) : nil
            answer.scopes = (0..<Int.random(in: 0...4, using: &rng)).map { _ in word(&rng) }
            for _ in 0..<Int.random(in: 0...4, using: &rng) { answer.meta[word(&rng)] = word(&rng) }
            answer.limit = number(&rng)
            answer.remaining = number(&rng)
            answer.resetMs = number(&rng)
            answer.retryAfterMs = number(&rng)
            answer.creditsRemaining = number(&rng)
            let value = try Self.written { $0.writeVerifyAnswer(answer, version) }
            #expect(VerifyAnswer(resp: value) == answer)
        }
    }

    @Test(arguments: versions)
    func verifyFieldNamesAndOrder(version: RESPVersion) throws {
        let value = try Self.written { $0.writeVerifyAnswer(Self.full, version) }
        #expect(Self.keys(value) == AnswerField.verify)
        #expect(AnswerField.verify.count == 11)
        #expect(Set(AnswerField.verify).count == AnswerField.verify.count)
        switch (version, value) {
        case (.v2, .array(let items)): #expect(items.count == 2 * AnswerField.verify.count)
        case (.v3, .map(let pairs)): #expect(pairs.count == AnswerField.verify.count)
        default: Issue.record("\(version) answer has the wrong shape: \(value)")
        }
    }

    @Test func verifyWireValues() throws {
        let v3 = try #require(try Self.written { $0.writeVerifyAnswer(Self.full, .v3) }.fields)
        #expect(v3["valid"] == .boolean(true))
        #expect(v3["code"] == .bulkString("VALID"))
        #expect(v3["scopes"] == .array([.bulkString("read"), .bulkString("write:orders"), .bulkString("admin")]))
        #expect(v3["limit"] == .integer(100))
        #expect(v3["credits_remaining"] == .integer(Int64.max))
        // Meta is written sorted by key, so replies are byte-for-byte reproducible.
        guard case .map(let meta) = v3["meta"] else {
            Issue.record("RESP3 meta is not a map")
            return
        }
        #expect(meta.map(\.key.string) == ["a", "note", "region", "tier"])

        let v2 = try #require(try Self.written { $0.writeVerifyAnswer(Self.full, .v2) }.fields)
        #expect(v2["valid"] == .integer(1))
        guard case .array(let flatMeta) = v2["meta"] else {
            Issue.record("RESP2 meta is not a flat array")
            return
        }
        #expect(flatMeta.count == 8)
        #expect(flatMeta.first == .bulkString("a"))
    }

    @Test(arguments: versions)
    func nilFieldsAreNulls(version: RESPVersion) throws {
        let fields = try #require(try Self.written { $0.writeVerifyAnswer(VerifyAnswer(code: .notFound), version) }.fields)
        #expect(fields["valid"] == (version == .v3 ? .boolean(false) : .integer(0)))
        #expect(fields["code"] == .bulkString("NOT_FOUND"))
        for name in ["key_id", "owner", "limit", "remaining", "reset_ms", "retry_after_ms", "credits_remaining"] {
            #expect(fields[name] == .null, "\(name)")
        }
        #expect(fields["scopes"] == .array([]))
        #expect(fields["meta"] == (version == .v3 ? .map([]) : .array([])))
    }

    @Test func verifyAnswerFromGarbageIsNil() {
        #expect(VerifyAnswer(resp: .integer(1)) == nil)
        #expect(VerifyAnswer(resp: .array([.bulkString("code")])) == nil)
        #expect(VerifyAnswer(resp: .array([.bulkString("valid"), .integer(1)])) == nil, "no code")
        #expect(VerifyAnswer(resp: .array([.bulkString("code"), .bulkString("MAYBE")])) == nil, "unknown code")
        #expect(VerifyAnswer(resp: .array([.bulkString("code"), .integer(0)])) == nil, "code not a string")
        #expect(VerifyAnswer(resp: .array([.bulkString("code"), .bulkString("REVOKED")])) == VerifyAnswer(code: .revoked))
    }

    static let throttles: [SlidingWindow.Check] = [
        .init(allowed: true, limit: 10, remaining: 9, resetMs: 1_000, retryAfterMs: 0),
        .init(allowed: false, limit: 1, remaining: 0, resetMs: 59_999, retryAfterMs: 12_345),
        .init(allowed: true, limit: Int64.max, remaining: Int64.max - 1, resetMs: 0, retryAfterMs: 0),
        .init(allowed: false, limit: 1_000_000, remaining: -5, resetMs: 31_622_400_000, retryAfterMs: 31_622_400_000),
    ]

    @Test(arguments: versions)
    func throttleAnswerRoundTrips(version: RESPVersion) throws {
        for check in Self.throttles {
            let answer = ThrottleAnswer(check, evicted: check.allowed)
            let value = try Self.written { $0.writeThrottleAnswer(answer, version) }
            #expect(ThrottleAnswer(resp: value) == answer)
            #expect(Self.keys(value) == AnswerField.throttle)
            let fields = try #require(value.fields)
            #expect(fields["allowed"] == (version == .v3 ? .boolean(check.allowed) : .integer(check.allowed ? 1 : 0)))
            #expect(fields["retry_after_ms"] == .integer(check.retryAfterMs))
            #expect(fields["evicted"] == (version == .v3 ? .boolean(check.allowed) : .integer(check.allowed ? 1 : 0)))
        }
    }

    @Test func throttleAnswerWithoutEvictedReadsAsNotEvicted() throws {
        let older: [RESPValue] = [
            .bulkString("allowed"), .integer(1), .bulkString("limit"), .integer(5), .bulkString("remaining"), .integer(4),
            .bulkString("reset_ms"), .integer(10), .bulkString("retry_after_ms"), .integer(0),
        ]
        let answer = try #require(ThrottleAnswer(resp: .array(older)))
        #expect(answer.allowed)
        #expect(!answer.evicted)
    }

    @Test func throttleAnswerFromGarbageIsNil() {
        let complete: [RESPValue] = [
            .bulkString("allowed"), .boolean(true), .bulkString("limit"), .integer(5), .bulkString("remaining"), .integer(4),
            .bulkString("reset_ms"), .integer(10), .bulkString("retry_after_ms"), .integer(0),
        ]
        #expect(ThrottleAnswer(resp: .array(complete)) != nil)
        for drop in stride(from: 0, to: complete.count, by: 2) {
            var partial = complete
            partial.removeSubrange(drop...drop + 1)
            #expect(ThrottleAnswer(resp: .array(partial)) == nil, "without \(complete[drop])")
        }
        var wrongType = complete
        wrongType[1] = .bulkString("yes")
        #expect(ThrottleAnswer(resp: .array(wrongType)) == nil)
        #expect(ThrottleAnswer(resp: .null) == nil)
    }
}
