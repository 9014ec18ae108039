import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Failed-attempt throttle per source")
struct SourceThrottleTests {
    static let windowMs: Int64 = 60_000
    static let t0 = Fixture.t0

    static func throttle(limit: Int64, capacity: Int = SourceThrottle.defaultCapacity) -> SourceThrottle {
        SourceThrottle(limit: limit, windowMs: windowMs, capacity: capacity)
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

    @Test("counts are exact: many distinct sources never push each other over the limit")
    func exactCounts() {
        var throttle = Self.throttle(limit: 2)
        let sources = (UInt64(1)...2000).map(Fixture.source)
        for source in sources { throttle.recordFailure(source, nowMs: Self.t0) }
        for source in sources {
            #expect(throttle.failures(of: source, nowMs: Self.t0 + 1) == 1)
            #expect(!throttle.isThrottled(source, nowMs: Self.t0 + 1))
        }
        #expect(throttle.failures(of: Fixture.source(9999), nowMs: Self.t0 + 1) == 0)
    }

    @Test("a full table forgets, never overestimates: a flood far larger than the table throttles none of its sources")
    func floodLargerThanTable() {
        var throttle = Self.throttle(limit: 2, capacity: 64)
        for n in UInt64(1)...10_000 { throttle.recordFailure(Fixture.source(n), nowMs: Self.t0 + Int64(n % 1000)) }
        #expect(throttle.count == 64)
        #expect(throttle.evictions == 10_000 - 64)
        for n in UInt64(1)...10_000 {
            #expect(!throttle.isThrottled(Fixture.source(n), nowMs: Self.t0 + 1000))
        }
    }

    @Test("an offender survives fewer than m/2 - 1 other failures between two of its own, and is caught")
    func offenderHeldThroughFloods() {
        let capacity = 64
        var throttle = Self.throttle(limit: 5, capacity: capacity)
        let offender = Fixture.source(1)
        var next: UInt64 = 100
        for attempt in 0..<5 {
            throttle.recordFailure(offender, nowMs: Self.t0 + Int64(attempt))
            for _ in 0..<(capacity / 2 - 2) {
                throttle.recordFailure(Fixture.source(next), nowMs: Self.t0 + Int64(attempt))
                next += 1
            }
        }
        #expect(throttle.evictions > 0, "the flood was larger than the table")
        #expect(throttle.isThrottled(offender, nowMs: Self.t0 + 10))
    }

    @Test("a flood of a whole table between two failures forgets a source below the limit")
    func floodForgetsSourcesBelowTheLimit() {
        let capacity = 64
        var throttle = Self.throttle(limit: 5, capacity: capacity)
        let source = Fixture.source(1)
        throttle.recordFailure(source, nowMs: Self.t0)
        for n in UInt64(100)..<UInt64(100 + capacity) { throttle.recordFailure(Fixture.source(n), nowMs: Self.t0) }
        #expect(throttle.failures(of: source, nowMs: Self.t0) == 0)
    }

    @Test("offenders keep their slots against a flood, but never more than half the table")
    func offendersHoldAtMostHalf() {
        let capacity = 16
        var throttle = Self.throttle(limit: 2, capacity: capacity)
        // Twelve offenders, more than half of the table.
        for n in UInt64(1)...12 {
            throttle.recordFailure(Fixture.source(n), nowMs: Self.t0)
            throttle.recordFailure(Fixture.source(n), nowMs: Self.t0)
        }
        // A flood of single failures: the oldest offenders go until half the table is left
        // to everyone else, and the newest half stays throttled.
        for n in UInt64(1000)..<UInt64(1100) { throttle.recordFailure(Fixture.source(n), nowMs: Self.t0 + 1) }
        let held = (UInt64(1)...12).filter { throttle.isThrottled(Fixture.source($0), nowMs: Self.t0 + 2) }
        #expect(held == Array(UInt64(5)...12))
    }

    @Test("a former offender whose failures faded below the limit is kept like a fresh failure, not dropped first")
    func formerOffendersRejoin() {
        let capacity = 16
        var throttle = Self.throttle(limit: 4, capacity: capacity)
        let offender = Fixture.source(1)
        for _ in 0..<4 { throttle.recordFailure(offender, nowMs: Self.t0 + Self.windowMs - 1) }
        #expect(throttle.isThrottled(offender, nowMs: Self.t0 + Self.windowMs - 1))
        // Early in the next window its estimate fell under 4 but is still near it.
        let later = Self.t0 + Self.windowMs + Self.windowMs / 10
        for n in UInt64(100)..<UInt64(100 + capacity) { throttle.recordFailure(Fixture.source(n), nowMs: later) }
        #expect(throttle.failures(of: offender, nowMs: later) > 3)
        #expect(!throttle.isThrottled(offender, nowMs: later))
        throttle.recordFailure(offender, nowMs: later)
        #expect(throttle.isThrottled(offender, nowMs: later))
    }

    @Test("the table's memory is bounded by its capacity: about 80 bytes a source")
    func memoryBound() {
        let bytes = SourceThrottle.memoryBytes(capacity: SourceThrottle.defaultCapacity)
        #expect(bytes < 6 * 1024 * 1024)
        #expect(bytes / SourceThrottle.defaultCapacity <= 96)
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

    /// The issue's acceptance flood: 300,000 malformed keys from random IPv4 and IPv6
    /// sources within one window, at the default limit (50) and table size.
    static let floodSize = 300_000

    static func randomSource(_ rng: inout SeededGenerator) -> SourceIdentity {
        rng.next() & 1 == 0
            ? SourceIdentity(high: 0, low: 0xFFFF_0000_0000 | (rng.next() & 0xFFFF_FFFF))
            : SourceIdentity(high: rng.next() | 1 << 61, low: 1)
    }

    /// Sends the flood through `harness` over the first 30 s of the window, calling `each`
    /// with the position and time of every flood key before it is sent; returns a sample of
    /// the flood's sources.
    static func flood(_ harness: inout Harness, seed: UInt64, each: (Int, Int64, inout Harness) -> Void = { _, _, _ in }) -> [SourceIdentity] {
        var rng = SeededGenerator(seed: seed)
        var sample: [SourceIdentity] = []
        for index in 0..<floodSize {
            let at = t0 + Int64(index / 10)
            each(index, at, &harness)
            let source = randomSource(&rng)
            if index % 10_000 == 0 { sample.append(source) }
            let answer = harness.verify("gk_bad\(index)", source: source, at: at)
            if answer.code != .malformed { Issue.record("flood key \(index) answered \(answer.code)") }
        }
        return sample
    }

    @Test("after 300,000 malformed keys from random sources, a never-seen source's valid key is VALID, and so are the flood's own")
    func randomFloodThrottlesNoBystander() throws {
        var harness = Harness()
        let (_, secret) = try harness.create()
        let sample = Self.flood(&harness, seed: 300)
        let now = Self.t0 + 30_000
        #expect(harness.verify(secret, source: Fixture.source(0xABCDEF), at: now).code == .valid)
        for source in sample {
            #expect(harness.verify(secret, source: source, at: now).code == .valid)
        }
        #expect(harness.keeper.failedAttemptSources.tracked == SourceThrottle.defaultCapacity)
    }

    @Test("a real offender sending the limit of bad keys during such a flood is throttled")
    func offenderCaughtDuringFlood() throws {
        var harness = Harness()
        let (_, secret) = try harness.create()
        let offender = Fixture.source(0x5EED)
        let spacing = Self.floodSize / Int(harness.keeper.settings.failedAttemptLimit)
        _ = Self.flood(&harness, seed: 301) { index, at, harness in
            guard index % spacing == 0 else { return }
            #expect(harness.verify("gk_offender\(index)", source: offender, at: at).code == .malformed)
        }
        let now = Self.t0 + 30_000
        #expect(harness.verify(secret, source: offender, at: now).code == .sourceThrottled)
        #expect(harness.verify(secret, source: Fixture.source(0xABCDEF), at: now).code == .valid)
    }

    @Test("refused tokens count in the same throttle as bad keys")
    func tokenFailuresCount() throws {
        var harness = Harness(settings: Self.settings)
        let (_, secret) = try harness.create()
        let guesser = Fixture.source(11)
        for attempt in 0..<5 {
            #expect(!harness.keeper.isSourceThrottled(guesser, nowMs: Self.t0 + Int64(attempt)))
            harness.keeper.recordFailedAttempt(guesser, nowMs: Self.t0 + Int64(attempt))
        }
        #expect(harness.keeper.isSourceThrottled(guesser, nowMs: Self.t0 + 10))
        #expect(harness.verify(secret, source: guesser, at: Self.t0 + 10).code == .sourceThrottled)
        #expect(!harness.keeper.isSourceThrottled(Fixture.source(12), nowMs: Self.t0 + 10))
    }
}
