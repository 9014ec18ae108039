import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Counter sync by need")
struct CounterSendRuleTests {
    static let rule = CounterSendRule(headroomFraction: 0.1, nearLimit: 0.8, maxStalenessMs: 1_000)
    static let now: Int64 = 1_800_000_000_000

    /// A gatekeeper holding one key with `limit`, and that key.
    static func oneKey(_ limit: RateLimit) throws -> (Gatekeeper, (record: KeyRecord, secret: String)) {
        let hasher = LookupHasher(pepper: Array("send-rule-pepper-0123456789abcdefghij".utf8))
        var random = SeededGenerator(seed: 3)
        let created = try KeyLifecycle.create(
            KeyDraft(limits: [limit]), defaultLimits: [], hasher: hasher,
            nowMs: now, version: HybridTimestamp(wallMs: now, logical: 0, node: "n1"), using: &random)
        var gatekeeper = Gatekeeper(hasher: hasher)
        gatekeeper.apply(created.record)
        return (gatekeeper, created)
    }

    @Test func nothingUnsentIsNeverDue() {
        #expect(!Self.rule.isDue(unsent: 0, estimate: 999, limit: 1_000, windowMs: 60_000, nodes: 3, unsentForMs: 10_000))
    }

    @Test func farBelowTheLimitACountWaitsForItsShareOfTheHeadroom() {
        // Headroom 1000, 3 nodes, θ = 0.1: due from 33.3 unsent on.
        #expect(!Self.rule.isDue(unsent: 33, estimate: 0, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
        #expect(Self.rule.isDue(unsent: 34, estimate: 0, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
        // Half the headroom left: half the threshold.
        #expect(!Self.rule.isDue(unsent: 16, estimate: 500, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
        #expect(Self.rule.isDue(unsent: 17, estimate: 500, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
    }

    @Test func nearTheLimitEveryChangeIsDue() {
        #expect(Self.rule.isDue(unsent: 1, estimate: 800, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
        #expect(!Self.rule.isDue(unsent: 1, estimate: 799, limit: 1_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
    }

    @Test func noCountWaitsLongerThanTheStalenessBoundOrATenthOfItsWindow() {
        #expect(!Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 999))
        #expect(Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 1_000))
        // A key's phase brings its deadline forward, by at most half.
        #expect(Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 600, phase: 0.4))
        #expect(!Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 599, phase: 0.4))
        #expect(!Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 499, phase: 0.9))
        #expect(!Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 1_000, nodes: 3, unsentForMs: 99))
        #expect(Self.rule.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 1_000, nodes: 3, unsentForMs: 100))
    }

    @Test func alwaysSendsEveryChange() {
        #expect(CounterSendRule.always.isDue(unsent: 1, estimate: 0, limit: 1_000_000, windowMs: 3_600_000, nodes: 3, unsentForMs: 0))
    }

    /// A gatekeeper hands out only due records and keeps the others for later calls.
    @Test func aGatekeeperSendsHotKeysFarFromTheirLimitsRarely() throws {
        let now = Self.now
        var (gatekeeper, created) = try Self.oneKey(RateLimit(name: "hour", limit: 1_000_000, windowMs: 3_600_000))
        gatekeeper.setLiveMembers(["local", "n2", "n3"])
        var sends = 0
        var sentCount: Int64 = 0
        // 10,000 requests over 10 s, a sync tick every 50 ms.
        for tick in 0..<200 {
            let tickMs = now + Int64(tick) * 50
            for request in 0..<50 {
                #expect(gatekeeper.verify(key: created.secret, VerifyRequest(), nowMs: tickMs + Int64(request)).code == .valid)
            }
            let dirty = gatekeeper.takeDirtyCounterRecords()
            let slots = gatekeeper.takeCounterChanges(ofRecords: dirty[...], nowMs: tickMs + 49, rule: Self.rule)
            if let slot = slots.first {
                sends += 1
                #expect(slot.count > sentCount)
                sentCount = slot.count
            }
        }
        // Far below its limit, only the staleness bound (1 s) sends: ~10, not 200.
        #expect(sends >= 9 && sends <= 11)
        // What was not sent yet is still there for the next call, with nothing lost.
        let rest = gatekeeper.takeCounterChanges()
        #expect((rest.first?.count ?? sentCount) == 10_000)
    }

    /// A record weighed and found not due is not weighed again at every tick: only once its
    /// staleness deadline comes, or once this node counted enough more to make it due.
    @Test func aRecordNotDueWaitsForItsDeadlineOrForCountsThatMatter() throws {
        let now = Self.now
        var (gatekeeper, created) = try Self.oneKey(RateLimit(name: "hour", limit: 1_000_000, windowMs: 3_600_000))
        gatekeeper.setLiveMembers(["local", "n2", "n3"])
        _ = gatekeeper.verify(key: created.secret, VerifyRequest(), nowMs: now)
        let first = gatekeeper.takeDirtyCounterRecords(nowMs: now + 50)
        #expect(first.count == 1)
        #expect(gatekeeper.takeCounterChanges(ofRecords: first[...], nowMs: now + 50, rule: Self.rule).isEmpty)
        // More counts far from mattering: nothing to weigh at the next ticks.
        for request in 1...100 { _ = gatekeeper.verify(key: created.secret, VerifyRequest(), nowMs: now + 50 + Int64(request)) }
        #expect(gatekeeper.takeDirtyCounterRecords(nowMs: now + 200).isEmpty)
        // Its deadline (1 s less its phase, at most half): weighed again, and due.
        let late = gatekeeper.takeDirtyCounterRecords(nowMs: now + 1_000)
        #expect(late.count == 1)
        #expect(gatekeeper.takeCounterChanges(ofRecords: late[...], nowMs: now + 1_000, rule: Self.rule).first?.count == 101)
        // A cost that reaches a tenth of its share of the headroom queues it at once.
        _ = gatekeeper.verify(key: created.secret, VerifyRequest(cost: 10), nowMs: now + 1_001)
        let quiet = gatekeeper.takeDirtyCounterRecords(nowMs: now + 1_050)
        #expect(gatekeeper.takeCounterChanges(ofRecords: quiet[...], nowMs: now + 1_050, rule: Self.rule).isEmpty)
        _ = gatekeeper.verify(key: created.secret, VerifyRequest(cost: 40_000), nowMs: now + 1_060)
        let heavy = gatekeeper.takeDirtyCounterRecords(nowMs: now + 1_100)
        #expect(heavy.count == 1)
        #expect(gatekeeper.takeCounterChanges(ofRecords: heavy[...], nowMs: now + 1_100, rule: Self.rule).first?.count == 40_111)
    }

    /// Near its limit a key's count is due at every tick it changed.
    @Test func aKeyNearItsLimitIsSentAtEveryTick() throws {
        let now = Self.now
        var (gatekeeper, created) = try Self.oneKey(RateLimit(name: "minute", limit: 100, windowMs: 60_000))
        for request in 0..<80 { _ = gatekeeper.verify(key: created.secret, VerifyRequest(), nowMs: now + Int64(request)) }
        _ = gatekeeper.takeCounterChanges()
        for tick in 1...5 {
            _ = gatekeeper.verify(key: created.secret, VerifyRequest(), nowMs: now + 100 + Int64(tick))
            let dirty = gatekeeper.takeDirtyCounterRecords()
            let slots = gatekeeper.takeCounterChanges(ofRecords: dirty[...], nowMs: now + 100 + Int64(tick), rule: Self.rule)
            #expect(slots.map(\.count) == [Int64(80 + tick)])
        }
    }
}
