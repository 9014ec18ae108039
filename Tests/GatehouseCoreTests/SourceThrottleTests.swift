import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Failed-attempt throttle per source")
struct SourceThrottleTests {
    static let windowMs: Int64 = 60_000
    static let t0 = Fixture.t0

    static func throttle(limit: Int64, seed: UInt64 = 5) -> SourceThrottle {
        var rng = SeededGenerator(seed: seed)
        return SourceThrottle(limit: limit, windowMs: windowMs, seeds: (0..<4).map { _ in rng.next() })
    }

    @Test("a source is throttled once its failures reach the limit, and only that source")
    func reachesLimit() {
        var throttle = Self.throttle(limit: 5)
        let attacker = Fixture.source(1)
        for attempt in 0..<5 {
            let early = throttle.isThrottled(attacker, nowMs: Self.t0 + Int64(attempt))
            #expect(!early)
            throttle.recordFailure(attacker, nowMs: Self.t0 + Int64(attempt))
        }
        let attackerThrottled = throttle.isThrottled(attacker, nowMs: Self.t0 + 10)
        let attackerFailures = throttle.failures(of: attacker, nowMs: Self.t0 + 10)
        let bystanderThrottled = throttle.isThrottled(Fixture.source(2), nowMs: Self.t0 + 10)
        #expect(attackerThrottled)
        #expect(attackerFailures == 5)
        #expect(!bystanderThrottled)
    }

    @Test("failures fade with the sliding window")
    func fades() {
        var throttle = Self.throttle(limit: 100)
        let source = Fixture.source(7)
        for _ in 0..<10 { throttle.recordFailure(source, nowMs: Self.t0) }
        let estimates = [59_999, 60_000, 90_000, 120_000].map { throttle.failures(of: source, nowMs: Self.t0 + $0) }
        #expect(estimates[0] == 10)
        #expect(estimates[1] == 10, "at the edge the previous window still weighs 100%")
        #expect(abs(estimates[2] - 5) < 1e-9)
        #expect(estimates[3] == 0)
    }

    @Test("limit 0 turns the throttle off")
    func disabled() {
        var throttle = Self.throttle(limit: 0)
        #expect(!throttle.isEnabled)
        for _ in 0..<100 { throttle.recordFailure(Fixture.source(1), nowMs: Self.t0) }
        let throttled = throttle.isThrottled(Fixture.source(1), nowMs: Self.t0)
        let failures = throttle.failures(of: Fixture.source(1), nowMs: Self.t0)
        #expect(!throttled)
        #expect(failures == 0)
    }

    @Test("many distinct sources do not push each other over the limit, and nobody is underestimated")
    func sketchAccuracy() {
        var throttle = Self.throttle(limit: 4, seed: 77)
        let sources = (UInt64(1)...2000).map(Fixture.source)
        for source in sources { throttle.recordFailure(source, nowMs: Self.t0) }
        for source in sources {
            let estimate = throttle.failures(of: source, nowMs: Self.t0 + 1)
            #expect(estimate >= 1)
            let throttled = throttle.isThrottled(source, nowMs: Self.t0 + 1)
            #expect(!throttled)
        }
    }

    static let settings = Gatekeeper.Settings(failedAttemptLimit: 5, failedAttemptWindowMs: windowMs)

    @Test("after failedAttemptLimit failures even a valid key from that source is SOURCE_THROTTLED")
    func validKeyFromThrottledSource() throws {
        var harness = Harness(settings: Self.settings)
        let (record, secret) = try harness.create(KeyDraft(owner: "acme"), defaultLimits: [RateLimit(name: "min", limit: 100, windowMs: 60_000)])
        let attacker = Fixture.source(1)
        for attempt in 0..<5 {
            let unknown = harness.unknownKey()
            #expect(harness.verify(unknown, source: attacker, at: Self.t0 + Int64(attempt)).code == .notFound)
        }
        let answer = harness.verify(secret, source: attacker, at: Self.t0 + 10)
        #expect(answer.code == .sourceThrottled)
        #expect(answer.keyID == nil)
        #expect(answer.owner == nil)
        #expect(answer.limit == nil)
        // A throttled attempt is not counted against the key's limit.
        let fromElsewhere = harness.verify(secret, source: Fixture.source(2), at: Self.t0 + 11)
        #expect(fromElsewhere.code == .valid)
        #expect(fromElsewhere.keyID == record.id)
        #expect(fromElsewhere.remaining == 99)
        #expect(harness.verify(secret, at: Self.t0 + 12).code == .valid, "no source skips the throttle")
    }

    @Test("malformed keys count as failures too; four are not enough")
    func malformedCounts() throws {
        var harness = Harness(settings: Self.settings)
        let (_, secret) = try harness.create()
        let source = Fixture.source(3)
        for attempt in 0..<4 {
            #expect(harness.verify("gk_garbage", source: source, at: Self.t0 + Int64(attempt)).code == .malformed)
        }
        #expect(harness.verify(secret, source: source, at: Self.t0 + 5).code == .valid)
        #expect(harness.verify(String(secret.dropLast()), source: source, at: Self.t0 + 6).code == .malformed)
        #expect(harness.verify(secret, source: source, at: Self.t0 + 7).code == .sourceThrottled)
        // The format check still comes first for a throttled source.
        #expect(harness.verify("nope", source: source, at: Self.t0 + 8).code == .malformed)
    }

    @Test("refusals of a found key (revoked, disabled, scope) are not failed attempts")
    func foundKeysDoNotCount() throws {
        var harness = Harness(settings: Self.settings)
        let (revokedRecord, revoked) = try harness.create()
        try harness.revoke(revokedRecord.id, nowMs: Self.t0)
        let (_, scoped) = try harness.create(KeyDraft(scopes: ["a"]))
        let source = Fixture.source(4)
        for attempt in 0..<10 {
            #expect(harness.verify(revoked, source: source, at: Self.t0 + Int64(attempt)).code == .revoked)
            #expect(harness.verify(scoped, scopes: ["b"], source: source, at: Self.t0 + Int64(attempt)).code == .insufficientScope)
        }
        #expect(harness.verify(scoped, scopes: ["a"], source: source, at: Self.t0 + 20).code == .valid)
    }

    @Test("a throttled source recovers once the failures have faded out of the window")
    func recovers() throws {
        var harness = Harness(settings: Self.settings)
        let (_, secret) = try harness.create()
        let source = Fixture.source(9)
        for _ in 0..<5 {
            let unknown = harness.unknownKey()
            #expect(harness.verify(unknown, source: source, at: Self.t0).code == .notFound)
        }
        #expect(harness.verify(secret, source: source, at: Self.t0 + 59_999).code == .sourceThrottled)
        // At the edge the previous window still weighs 100%.
        #expect(harness.verify(secret, source: source, at: Self.t0 + 60_000).code == .sourceThrottled)
        // Halfway into the next window the estimate is 2.5 of 5.
        #expect(harness.verify(secret, source: source, at: Self.t0 + 90_000).code == .valid)
        #expect(harness.verify(secret, source: source, at: Self.t0 + 120_000).code == .valid)
    }
}
