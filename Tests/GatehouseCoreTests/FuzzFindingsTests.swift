import GatehouseCore
import GatehouseTestKit
import Testing

/// Traps found while building the fuzz targets (`fuzz/`, the `http-json` target drives these
/// paths with every key it manages to create), kept as regressions.
@Suite("Fuzz findings: limits and costs at the ends of Int64")
struct FuzzFindingsTests {
    /// `POST /v1/keys` accepts any positive limit, and the first verify of a
    /// key whose limit is `Int64.max` trapped converting `Double(limit)` (2^63) back to Int64.
    @Test("a key with limit Int64.max verifies, at cost 0, 1 and Int64.max")
    func limitAtInt64Max() throws {
        var harness = Harness()
        let limits = [RateLimit(name: "huge", limit: .max, windowMs: KeyRules.maxWindowMs), RateLimit(name: "sec", limit: 1, windowMs: 1)]
        let (_, secret) = try harness.create(KeyDraft(owner: "acct_1", limits: [limits[0]], credits: .max))
        let free = harness.keeper.verify(key: secret, VerifyRequest(cost: 0), nowMs: Fixture.t0 + 1)
        #expect(free.code == .valid)
        #expect(free.remaining == .max)
        let one = harness.keeper.verify(key: secret, VerifyRequest(cost: 1), nowMs: Fixture.t0 + 2)
        #expect(one.code == .valid)
        #expect(one.limit == .max)
        // One credit is spent already, so a cost of Int64.max is more than is left: an answer,
        // not a trap.
        let all = harness.keeper.verify(key: secret, VerifyRequest(cost: .max), nowMs: Fixture.t0 + 3)
        #expect(all.code == .usageExceeded)
        #expect(all.creditsRemaining == Int64.max - 1)
        // And next to a tight limit, so the refusing path runs with the huge one beside it.
        let (_, both) = try harness.create(KeyDraft(owner: "acct_2", limits: limits))
        for step in Int64(0)..<3 {
            let answer = harness.keeper.verify(key: both, VerifyRequest(cost: 1), nowMs: Fixture.t0 + 10 + step)
            #expect(answer.code == .valid || answer.code == .rateLimited)
        }
    }

    /// `{"cost": 9223372036854775807}` on a key with credits left adds the
    /// cost to the limit's remaining count when reporting `USAGE_EXCEEDED`; that overflowed.
    @Test("USAGE_EXCEEDED with cost Int64.max on a key with a huge limit reports, not traps")
    func usageExceededAtInt64Max() throws {
        var harness = Harness()
        let (_, secret) = try harness.create(KeyDraft(owner: "acct_1", limits: [RateLimit(name: "huge", limit: .max, windowMs: 1000)], credits: 5))
        // Double(cost) rounds down by 1024 here, so the limit still shows 1024 remaining, and
        // remaining + cost is past Int64.max.
        let answer = harness.keeper.verify(key: secret, VerifyRequest(cost: .max - 1000), nowMs: Fixture.t0 + 1)
        #expect(answer.code == .usageExceeded)
        #expect(answer.remaining == .max)
        #expect(answer.creditsRemaining == 5)
    }

    @Test("SlidingWindow.check saturates remaining and retry-after instead of trapping")
    func slidingWindowSaturates() {
        var window = SlidingWindow()
        let check = window.check(cost: 0, limit: .max, windowMs: 1000, nowMs: Fixture.t0)
        #expect(check.allowed)
        #expect(check.remaining == .max)
        window.record(cost: .max)
        let refused = window.check(cost: .max, limit: .max, windowMs: 1000, nowMs: Fixture.t0 + 500)
        #expect(!refused.allowed)
        #expect(refused.retryAfterMs >= 1)
    }
}
