import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Gatekeeper.verify: codes, order and answer fields")
struct GatekeeperVerifyTests {
    static let t0 = Fixture.t0
    static let perSecond = RateLimit(name: "sec", limit: 10, windowMs: 1000)
    static let perMinute = RateLimit(name: "min", limit: 100, windowMs: 60_000)

    static func expectNoKeyFields(_ answer: VerifyAnswer, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!answer.valid, sourceLocation: sourceLocation)
        #expect(answer.keyID == nil, sourceLocation: sourceLocation)
        #expect(answer.owner == nil, sourceLocation: sourceLocation)
        #expect(answer.scopes.isEmpty, sourceLocation: sourceLocation)
        #expect(answer.meta.isEmpty, sourceLocation: sourceLocation)
        #expect(answer.limit == nil, sourceLocation: sourceLocation)
        #expect(answer.remaining == nil, sourceLocation: sourceLocation)
        #expect(answer.resetMs == nil, sourceLocation: sourceLocation)
        #expect(answer.retryAfterMs == nil, sourceLocation: sourceLocation)
        #expect(answer.creditsRemaining == nil, sourceLocation: sourceLocation)
    }

    static func expectKeyFields(_ answer: VerifyAnswer, _ record: KeyRecord, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.keyID == record.id, sourceLocation: sourceLocation)
        #expect(answer.owner == record.owner, sourceLocation: sourceLocation)
        #expect(answer.scopes == record.scopes, sourceLocation: sourceLocation)
        #expect(answer.meta == record.meta, sourceLocation: sourceLocation)
    }

    static let richDraft = KeyDraft(
        name: "ci", owner: "acct_9", scopes: ["orders:*", "billing:read"], limits: [perSecond, perMinute],
        meta: ["plan": "pro", "region": "eu"]
    )

    // MARK: - Each code

    @Test("VALID carries the key's fields and the tightest limit")
    func valid() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(Self.richDraft)
        let answer = harness.verify(secret, scopes: ["orders:read"], at: Self.t0 + 250)
        #expect(answer.code == .valid)
        #expect(answer.valid)
        Self.expectKeyFields(answer, record)
        #expect(answer.owner == "acct_9")
        #expect(answer.meta == ["plan": "pro", "region": "eu"])
        #expect(answer.limit == 10)
        #expect(answer.remaining == 9)
        #expect(answer.resetMs == 750)
        #expect(answer.retryAfterMs == 0)
        #expect(answer.creditsRemaining == nil)
    }

    @Test("an answer without the record's fields decides and counts exactly as a full one")
    func answerWithoutRecordFields() throws {
        var full = Harness()
        var verdictOnly = Harness()
        let (_, secret) = try full.create(Self.richDraft)
        let (_, same) = try verdictOnly.create(Self.richDraft)
        #expect(secret == same, "both harnesses make the same key")
        for step in 0..<14 {
            let scopes = step == 3 ? ["admin"] : ["orders:read"]
            let now = Self.t0 + Int64(step) * 10
            let expected = full.verify(secret, scopes: scopes, at: now)
            var request = VerifyRequest(scopes: scopes)
            request.includesRecord = false
            let answer = verdictOnly.keeper.verify(key: same, request, nowMs: now)
            #expect(answer.code == expected.code)
            #expect(answer.limit == expected.limit && answer.remaining == expected.remaining)
            #expect(answer.resetMs == expected.resetMs && answer.retryAfterMs == expected.retryAfterMs)
            #expect(answer.keyID == nil && answer.owner == nil && answer.scopes.isEmpty && answer.meta.isEmpty)
        }
        #expect(full.verify(secret, at: Self.t0 + 500).code == .rateLimited)
    }

    @Test("MALFORMED for garbage and for a real key with one character changed; no key fields", arguments: [
        "", "gk_", "hello", "gk_0000000000000000000000000000000000000",
    ])
    func malformed(text: String) throws {
        var harness = Harness()
        _ = try harness.create(Self.richDraft)
        let answer = harness.verify(text)
        #expect(answer.code == .malformed)
        Self.expectNoKeyFields(answer)
    }

    @Test("MALFORMED for every single-character typo of an issued key")
    func malformedTypos() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(Self.richDraft)
        let bytes = Array(secret.utf8)
        for position in bytes.indices {
            var typo = bytes
            typo[position] = bytes[position] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            let answer = harness.verify(String(decoding: typo, as: UTF8.self))
            #expect(answer.code == .malformed, "position \(position)")
            #expect(answer.keyID == nil)
        }
    }

    @Test("NOT_FOUND for well-formed keys that were never issued here; looks like MALFORMED apart from the code")
    func notFound() throws {
        var harness = Harness()
        _ = try harness.create(Self.richDraft)
        let unknown = harness.unknownKey()
        let answer = harness.verify(unknown)
        #expect(answer.code == .notFound)
        Self.expectNoKeyFields(answer)
        var malformed = harness.verify("junk")
        malformed.code = .notFound
        #expect(malformed == answer)

        // A key issued by a cluster with another pepper is unknown here.
        var foreignRng = SeededGenerator(seed: 500)
        let foreign = try KeyLifecycle.create(
            Self.richDraft, defaultLimits: [], hasher: LookupHasher(pepper: [UInt8](repeating: 9, count: 32)), nowMs: Self.t0,
            version: Fixture.version(Self.t0), using: &foreignRng
        )
        #expect(harness.verify(foreign.secret).code == .notFound)
    }

    @Test("REVOKED, with the key's fields")
    func revoked() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(Self.richDraft)
        try harness.revoke(record.id, nowMs: Self.t0 + 1)
        let answer = harness.verify(secret, at: Self.t0 + 2)
        #expect(answer.code == .revoked)
        Self.expectKeyFields(answer, record)
        #expect(answer.limit == nil)
    }

    @Test("DISABLED, and enabling again makes it VALID")
    func disabled() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(Self.richDraft)
        try harness.update(record.id, KeyChanges(enabled: false), nowMs: Self.t0 + 1)
        let answer = harness.verify(secret, at: Self.t0 + 2)
        #expect(answer.code == .disabled)
        Self.expectKeyFields(answer, record)
        try harness.update(record.id, KeyChanges(enabled: true), nowMs: Self.t0 + 3)
        #expect(harness.verify(secret, at: Self.t0 + 4).code == .valid)
    }

    @Test("EXPIRED from expires_at on, VALID one millisecond before")
    func expired() throws {
        var harness = Harness()
        let expiresAt = Self.t0 + 86_400_000
        var draft = Self.richDraft
        draft.expiresAt = expiresAt
        let (record, secret) = try harness.create(draft)
        #expect(harness.verify(secret, at: expiresAt - 1).code == .valid)
        let answer = harness.verify(secret, at: expiresAt)
        #expect(answer.code == .expired)
        Self.expectKeyFields(answer, record)
        #expect(harness.verify(secret, at: expiresAt + 1_000_000).code == .expired)
    }

    @Test("INSUFFICIENT_SCOPE when any required scope is missing", arguments: [
        ["orders"], ["ordersx"], ["billing:write"], ["orders:read", "admin"], ["billing:read", "billing:write"],
    ])
    func insufficientScope(required: [String]) throws {
        var harness = Harness()
        let (record, secret) = try harness.create(Self.richDraft)
        let answer = harness.verify(secret, scopes: required)
        #expect(answer.code == .insufficientScope)
        Self.expectKeyFields(answer, record)
        #expect(harness.verify(secret, scopes: ["orders:read", "billing:read"]).code == .valid)
    }

    @Test("RATE_LIMITED once a limit is used up, with the refusing limit's numbers")
    func rateLimited() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(Self.richDraft)
        for step in Int64(0)..<10 {
            let answer = harness.verify(secret, at: Self.t0 + 100 + step)
            #expect(answer.code == .valid)
            #expect(answer.remaining == 9 - step)
        }
        let answer = harness.verify(secret, at: Self.t0 + 200)
        #expect(answer.code == .rateLimited)
        Self.expectKeyFields(answer, record)
        #expect(answer.limit == 10)
        #expect(answer.remaining == 0)
        #expect(answer.resetMs == 800)
        // 800 ms to the edge, then 10*(1000-x)/1000 + 1 <= 10 from x = 100.
        #expect(answer.retryAfterMs == 900)
    }

    @Test("USAGE_EXCEEDED when the credits cannot cover the cost")
    func usageExceeded() throws {
        var harness = Harness()
        var draft = Self.richDraft
        draft.credits = 2
        let (record, secret) = try harness.create(draft)
        #expect(harness.verify(secret).creditsRemaining == 1)
        #expect(harness.verify(secret).creditsRemaining == 0)
        let answer = harness.verify(secret)
        #expect(answer.code == .usageExceeded)
        Self.expectKeyFields(answer, record)
        #expect(answer.creditsRemaining == 0)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 0)
    }

    @Test("a zero quota refuses the first request")
    func zeroCredits() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(credits: 0))
        #expect(harness.verify(secret).code == .usageExceeded)
    }

    @Test("one scenario produces every VerifyCode")
    func everyCode() throws {
        var harness = Harness(settings: Gatekeeper.Settings(failedAttemptLimit: 3))
        var seen = Set<VerifyCode>()
        let (plain, plainSecret) = try harness.create(KeyDraft(scopes: ["a"], limits: [RateLimit(name: "x", limit: 1, windowMs: 60_000)]))
        seen.insert(harness.verify(plainSecret, scopes: ["a"]).code)
        seen.insert(harness.verify(plainSecret, scopes: ["a"]).code)
        seen.insert(harness.verify(plainSecret, scopes: ["b"]).code)
        seen.insert(harness.verify("x").code)
        let unknown = harness.unknownKey()
        seen.insert(harness.verify(unknown).code)
        for _ in 0..<3 { _ = harness.verify("x", source: Fixture.source(1)) }
        seen.insert(harness.verify(plainSecret, source: Fixture.source(1)).code)
        let (_, broke) = try harness.create(KeyDraft(credits: 0))
        seen.insert(harness.verify(broke).code)
        let (soon, soonSecret) = try harness.create(KeyDraft(expiresAt: Self.t0 + 10))
        seen.insert(harness.verify(soonSecret, at: soon.expiresAt!).code)
        let (off, offSecret) = try harness.create(KeyDraft(enabled: false))
        seen.insert(harness.verify(offSecret).code)
        try harness.revoke(plain.id, nowMs: Self.t0 + 1)
        seen.insert(harness.verify(plainSecret, at: Self.t0 + 2).code)
        #expect(off.enabled == false)
        #expect(seen == Set(VerifyCode.allCases))
    }

    // MARK: - Decision order

    @Test("revoked and disabled is REVOKED; disabled and expired is DISABLED; expired and out of scope is EXPIRED")
    func orderOfRecordChecks() throws {
        var harness = Harness()
        var draft = Self.richDraft
        draft.expiresAt = Self.t0 + 100
        let (record, secret) = try harness.create(draft)
        let later = Self.t0 + 200
        #expect(harness.verify(secret, scopes: ["admin"], at: later).code == .expired)
        try harness.update(record.id, KeyChanges(enabled: false), nowMs: Self.t0 + 1)
        #expect(harness.verify(secret, scopes: ["admin"], at: later).code == .disabled)
        try harness.revoke(record.id, nowMs: Self.t0 + 2)
        #expect(harness.verify(secret, scopes: ["admin"], at: later).code == .revoked)
    }

    @Test("out of scope is INSUFFICIENT_SCOPE even when rate limited, and is not counted")
    func scopeBeforeRateLimit() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(scopes: ["a"], limits: [RateLimit(name: "x", limit: 2, windowMs: 60_000)]))
        for _ in 0..<5 { #expect(harness.verify(secret, scopes: ["b"]).code == .insufficientScope) }
        #expect(harness.verify(secret, scopes: ["a"]).remaining == 1)
        #expect(harness.verify(secret, scopes: ["a"]).remaining == 0)
        #expect(harness.verify(secret, scopes: ["b"]).code == .insufficientScope)
        #expect(harness.verify(secret, scopes: ["a"]).code == .rateLimited)
    }

    @Test("rate limited and out of credits is RATE_LIMITED")
    func rateLimitBeforeCredits() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 1, windowMs: 60_000)], credits: 1))
        #expect(harness.verify(secret).code == .valid)
        let answer = harness.verify(secret)
        #expect(answer.code == .rateLimited)
        // The answer reports the quota left, and refusing did not spend any of it.
        #expect(answer.creditsRemaining == 0)
    }

    @Test("refusals before the rate limit step never count against it", arguments: [VerifyCode.malformed, .notFound, .revoked, .disabled, .expired, .insufficientScope])
    func earlyRefusalsDoNotCount(code: VerifyCode) throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(scopes: ["a"], limits: [RateLimit(name: "x", limit: 2, windowMs: 60_000)], expiresAt: Self.t0 + 1000))
        var attempt = secret
        var at = Self.t0
        switch code {
        case .malformed: attempt = String(secret.dropLast()) + (secret.hasSuffix("0") ? "1" : "0")
        case .notFound: attempt = harness.unknownKey()
        case .revoked: try harness.revoke(record.id, nowMs: Self.t0)
        case .disabled: try harness.update(record.id, KeyChanges(enabled: false), nowMs: Self.t0)
        case .expired: at = Self.t0 + 1000
        default: break
        }
        for _ in 0..<20 {
            #expect(harness.verify(attempt, scopes: code == .insufficientScope ? ["b"] : ["a"], at: at).code == code)
        }
        // Nothing was counted: no own counter slot changed.
        #expect(harness.keeper.takeCounterChanges().isEmpty)
        // Put the key back in order (a newer write that keeps its limits, so its counters stay)
        // and use it: both units of the limit are still there. A revoke cannot be undone:
        // the newer live write loses to it.
        var repaired = try #require(harness.keeper.record(id: record.id))
        repaired.revokedAt = nil
        repaired.enabled = true
        repaired.expiresAt = nil
        repaired.version = harness.clock.tick(nowMs: Self.t0 + 1)
        let applied = harness.keeper.apply(repaired)
        guard code != .revoked else {
            #expect(!applied)
            #expect(harness.verify(secret, scopes: ["a"], at: at).code == .revoked)
            return
        }
        #expect(applied)
        #expect(harness.verify(secret, scopes: ["a"], at: at).remaining == 1)
        #expect(harness.verify(secret, scopes: ["a"], at: at).remaining == 0)
        #expect(harness.verify(secret, scopes: ["a"], at: at).code == .rateLimited)
    }

    @Test("USAGE_EXCEEDED does not consume the rate limit")
    func usageExceededDoesNotCount() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 5, windowMs: 60_000)], credits: 2))
        #expect(harness.verify(secret).remaining == 4)
        #expect(harness.verify(secret).remaining == 3)
        var reported: Set<Int64?> = []
        for _ in 0..<10 {
            let answer = harness.verify(secret)
            #expect(answer.code == .usageExceeded)
            #expect(answer.limit == 5)
            reported.insert(answer.remaining)
        }
        #expect(reported.count == 1, "refused requests do not move the counter: \(reported)")
        try harness.update(record.id, KeyChanges(credits: .set(10)), nowMs: Self.t0 + 1)
        let answer = harness.verify(secret, at: Self.t0 + 2)
        #expect(answer.code == .valid)
        #expect(answer.remaining == 2)
        #expect(answer.creditsRemaining == 9)
    }

    // MARK: - Several limits

    @Test("rate limits are all-or-nothing: a refusal by one limit does not count against the others")
    func allOrNothing() throws {
        var harness = Harness()
        let short = RateLimit(name: "short", limit: 3, windowMs: 1000)
        let long = RateLimit(name: "long", limit: 5, windowMs: 60_000)
        let (_, secret) = try harness.create(KeyDraft(limits: [short, long]))
        for step in Int64(0)..<3 { #expect(harness.verify(secret, at: Self.t0 + step).code == .valid) }
        for step in Int64(0)..<20 {
            let answer = harness.verify(secret, at: Self.t0 + 10 + step)
            #expect(answer.code == .rateLimited)
            #expect(answer.limit == 3)
        }
        // Two seconds later the short window is clear; the long one saw only the 3 admitted.
        let answer = harness.verify(secret, at: Self.t0 + 2000)
        #expect(answer.code == .valid)
        #expect(answer.limit == 5)
        #expect(answer.remaining == 1)
        #expect(harness.verify(secret, at: Self.t0 + 2001).code == .valid)
        let refused = harness.verify(secret, at: Self.t0 + 2002)
        #expect(refused.code == .rateLimited)
        #expect(refused.limit == 5)
    }

    @Test("when several limits refuse, the answer is the one with the longest wait")
    func longestRetryWins() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(limits: [
            RateLimit(name: "a", limit: 2, windowMs: 1000), RateLimit(name: "b", limit: 2, windowMs: 60_000),
        ]))
        _ = harness.verify(secret, at: Self.t0)
        _ = harness.verify(secret, at: Self.t0)
        let answer = harness.verify(secret, at: Self.t0 + 10)
        #expect(answer.code == .rateLimited)
        #expect(answer.resetMs == 59_990)
        // 59 990 ms to the edge, then 2*(60000-x)/60000 + 1 <= 2 from x = 30 000.
        #expect(answer.retryAfterMs == 89_990)
    }

    @Test("the tightest limit is the one with the least left", arguments: [
        (Int64(10), Int64(100), Int64(10), Int64(7)),
        (Int64(50), Int64(5), Int64(5), Int64(2)),
    ])
    func tightestLimit(perSecond: Int64, perMinute: Int64, expectedLimit: Int64, expectedRemaining: Int64) throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(limits: [
            RateLimit(name: "sec", limit: perSecond, windowMs: 1000), RateLimit(name: "min", limit: perMinute, windowMs: 60_000),
        ]))
        _ = harness.verify(secret, at: Self.t0)
        _ = harness.verify(secret, at: Self.t0)
        let answer = harness.verify(secret, at: Self.t0 + 500)
        #expect(answer.limit == expectedLimit)
        #expect(answer.remaining == expectedRemaining)
    }

    @Test("a key without limits answers without limit fields")
    func noLimits() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(limits: []))
        for _ in 0..<5000 { #expect(harness.verify(secret).code == .valid) }
        let answer = harness.verify(secret)
        #expect(answer.limit == nil)
        #expect(answer.remaining == nil)
        #expect(answer.resetMs == nil)
        #expect(answer.retryAfterMs == nil)
    }

    @Test("retry_after of a RATE_LIMITED answer: the same request is VALID exactly then, not 1 ms before", arguments: [
        Int64(0), 1, 333, 999,
    ])
    func retryAfterIsExact(offset: Int64) throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 4, windowMs: 1000)]))
        for _ in 0..<4 { #expect(harness.verify(secret, at: Self.t0 + offset).code == .valid) }
        let now = Self.t0 + offset + 1
        let refused = harness.verify(secret, at: now)
        #expect(refused.code == .rateLimited)
        let retry = try #require(refused.retryAfterMs)
        var early = harness
        #expect(early.verify(secret, at: now + retry - 1).code == .rateLimited)
        var onTime = harness
        #expect(onTime.verify(secret, at: now + retry).code == .valid)
    }

    // MARK: - Cost and credits

    @Test("a cost counts that many units against every limit and the credits")
    func cost() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 10, windowMs: 60_000)], credits: 20))
        let answer = harness.verify(secret, cost: 4)
        #expect(answer.code == .valid)
        #expect(answer.remaining == 6)
        #expect(answer.creditsRemaining == 16)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 16)
        let tooMuch = harness.verify(secret, cost: 7)
        #expect(tooMuch.code == .rateLimited)
        #expect(harness.verify(secret, cost: 6).remaining == 0)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 10)
    }

    @Test("a cost above the credits left is refused without deducting anything")
    func costAboveCredits() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(credits: 5))
        let answer = harness.verify(secret, cost: 6)
        #expect(answer.code == .usageExceeded)
        #expect(answer.creditsRemaining == 5)
        #expect(harness.verify(secret, cost: 5).creditsRemaining == 0)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 0)
    }

    @Test("a zero or negative cost is admitted without counting")
    func zeroCost() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 1, windowMs: 60_000)], credits: 1))
        for cost in [Int64(0), -5, 0] {
            let answer = harness.verify(secret, cost: cost)
            #expect(answer.code == .valid)
            #expect(answer.remaining == 1)
            #expect(answer.creditsRemaining == 1)
        }
        #expect(harness.keeper.creditsRemaining(id: record.id) == 1)
        #expect(harness.verify(secret).code == .valid)
        #expect(harness.verify(secret).code == .rateLimited)
    }

    @Test("credits survive unrelated updates and start over when set again")
    func creditsAcrossUpdates() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(credits: 10))
        for _ in 0..<3 { _ = harness.verify(secret) }
        try harness.update(record.id, KeyChanges(name: "renamed"), nowMs: Self.t0 + 1)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 7)
        #expect(harness.verify(secret, at: Self.t0 + 2).creditsRemaining == 6)
        try harness.update(record.id, KeyChanges(credits: .set(3)), nowMs: Self.t0 + 3)
        #expect(harness.keeper.creditsRemaining(id: record.id) == 3)
        #expect(harness.verify(secret, at: Self.t0 + 4).creditsRemaining == 2)
        try harness.update(record.id, KeyChanges(credits: .clear), nowMs: Self.t0 + 5)
        #expect(harness.keeper.creditsRemaining(id: record.id) == nil)
        let answer = harness.verify(secret, at: Self.t0 + 6)
        #expect(answer.code == .valid)
        #expect(answer.creditsRemaining == nil)
    }

    @Test("restored credit usage counts only for the same quota epoch")
    func restoreCreditUsage() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(credits: 10))
        let epoch = try #require(record.creditsSetAt)
        harness.keeper.restoreCreditUsage(id: record.id, Gatekeeper.CreditUsage(epoch: epoch, used: 8))
        #expect(harness.keeper.creditsRemaining(id: record.id) == 2)
        #expect(harness.verify(secret).creditsRemaining == 1)
        // Usage of another quota epoch is ignored: it neither adds nor replaces.
        harness.keeper.restoreCreditUsage(id: record.id, Gatekeeper.CreditUsage(epoch: Fixture.version(1), used: 8))
        #expect(harness.keeper.creditsRemaining(id: record.id) == 1)
        var fresh = Harness()
        let (other, _) = try fresh.create(KeyDraft(credits: 10))
        fresh.keeper.restoreCreditUsage(id: other.id, Gatekeeper.CreditUsage(epoch: Fixture.version(1), used: 8))
        #expect(fresh.keeper.creditsRemaining(id: other.id) == 10)
        #expect(harness.keeper.creditsRemaining(id: "key_unknown") == nil)
    }

    // MARK: - Usage tracking and entry points

    @Test("last_used_at is refreshed at most once per resolution and reported for persistence")
    func lastUsed() throws {
        var harness = Harness(settings: Gatekeeper.Settings(lastUsedResolutionMs: 60_000))
        let (record, secret) = try harness.create()
        #expect(harness.keeper.takeUsageChanges().isEmpty)
        _ = harness.verify(secret, at: Self.t0 + 5)
        let changes = harness.keeper.takeUsageChanges()
        #expect(changes.count == 1)
        #expect(changes.first?.record.id == record.id)
        #expect(changes.first?.record.lastUsedAt == Self.t0 + 5)
        #expect(harness.keeper.takeUsageChanges().isEmpty)
        _ = harness.verify(secret, at: Self.t0 + 60_004)
        #expect(harness.keeper.takeUsageChanges().isEmpty)
        #expect(harness.keeper.record(id: record.id)?.lastUsedAt == Self.t0 + 5)
        _ = harness.verify(secret, at: Self.t0 + 60_005)
        #expect(harness.keeper.record(id: record.id)?.lastUsedAt == Self.t0 + 60_005)
        #expect(harness.keeper.takeUsageChanges().count == 1)
        // Refused verifies do not touch it.
        _ = harness.verify(secret, scopes: ["nope"], at: Self.t0 + 200_000)
        #expect(harness.keeper.takeUsageChanges().isEmpty)
    }

    @Test("credit usage is reported for persistence on every admitted request")
    func creditUsageChanges() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(credits: 5))
        _ = harness.verify(secret)
        _ = harness.keeper.takeUsageChanges()
        _ = harness.verify(secret, at: Self.t0 + 1)
        let changes = harness.keeper.takeUsageChanges()
        #expect(changes.count == 1)
        #expect(changes.first?.creditUsage == Gatekeeper.CreditUsage(epoch: record.creditsSetAt!, used: 2))
    }

    @Test("the String and raw-byte entry points answer the same")
    func entryPoints() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(Self.richDraft)
        var copy = harness
        let viaString = harness.verify(secret, scopes: ["orders:x"], at: Self.t0 + 3)
        let viaBytes = Array(secret.utf8).withUnsafeBytes {
            copy.keeper.verify(key: $0, VerifyRequest(scopes: ["orders:x"]), nowMs: Self.t0 + 3)
        }
        #expect(viaString == viaBytes)
        #expect(viaString.code == .valid)
    }
}

@Suite("VerifyCode")
struct VerifyCodeTests {
    @Test("wire names are the documented upper-case codes")
    func rawValues() {
        #expect(VerifyCode.allCases.map(\.rawValue) == [
            "VALID", "MALFORMED", "SOURCE_THROTTLED", "NOT_FOUND", "REVOKED", "DISABLED", "EXPIRED",
            "INSUFFICIENT_SCOPE", "RATE_LIMITED", "USAGE_EXCEEDED",
        ])
    }

    @Test("ordinals are dense and unique")
    func ordinals() {
        #expect(VerifyCode.allCases.map(\.ordinal).sorted() == Array(0..<VerifyCode.allCases.count))
    }

    @Test("only malformed and unknown keys count as failed attempts")
    func failedAttempts() {
        #expect(Set(VerifyCode.allCases.filter(\.countsAsFailedAttempt)) == [.malformed, .notFound])
    }
}
