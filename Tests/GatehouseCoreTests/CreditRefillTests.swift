import GatehouseCore
import Testing

/// Credits that refill every UTC day or month: the period arithmetic, the verify path moving
/// on to a fresh quota at the boundary, and the lifecycle's rules.
@Suite("Credit refill")
struct CreditRefillTests {
    static let day: Int64 = 86_400_000
    /// 2027-01-15T00:00:00Z.
    static let midJanuary: Int64 = 1_799_971_200_000

    @Test func periodsAreUTCDaysAndMonths() {
        let daily = CreditRefill(amount: 1, interval: .daily)
        let monthly = CreditRefill(amount: 1, interval: .monthly)
        #expect(daily.period(atMs: 0) == 0)
        #expect(daily.period(atMs: Self.day - 1) == 0)
        #expect(daily.period(atMs: Self.day) == 1)
        #expect(daily.period(atMs: -1) == -1)
        #expect(monthly.period(atMs: 0) == 0)
        // 2026-11-30T23:59:59.999Z and 2026-12-01T00:00:00Z.
        #expect(monthly.period(atMs: 1_796_083_199_999) == 682)
        #expect(monthly.period(atMs: 1_796_083_200_000) == 683)
        // 2024-02-29T12:00:00Z is in February 2024; 1969-12-31 in the month before 1970-01.
        #expect(monthly.period(atMs: 1_709_208_000_000) == 649)
        #expect(monthly.period(atMs: -1) == -1)
    }

    @Test func theQuotaComesBackAtTheNextPeriod() throws {
        var harness = Harness()
        let (record, secret) = try harness.create(KeyDraft(credits: 3, refill: CreditRefill(amount: 5, interval: .daily)), nowMs: Self.midJanuary)
        for _ in 0..<3 { #expect(harness.verify(secret, at: Self.midJanuary + 1).code == .valid) }
        let exhausted = harness.verify(secret, at: Self.midJanuary + 2)
        #expect(exhausted.code == .usageExceeded)
        #expect(exhausted.creditsRemaining == 0)
        #expect(harness.keeper.creditsRemaining(id: record.id, nowMs: Self.midJanuary + 3) == 0)
        // The next UTC day: the refill amount, not the credits first set.
        let tomorrow = Self.midJanuary + Self.day
        #expect(harness.keeper.creditsRemaining(id: record.id, nowMs: tomorrow) == 5)
        for _ in 0..<5 { #expect(harness.verify(secret, at: tomorrow).code == .valid) }
        #expect(harness.verify(secret, at: tomorrow + 1).code == .usageExceeded)
        // What was spent is reported with its period, for the disk.
        let usage = try #require(harness.keeper.takeUsageChanges().first?.creditUsage)
        #expect(usage.period == CreditRefill(amount: 5, interval: .daily).period(atMs: tomorrow))
        #expect(usage.used == 5)
    }

    @Test func aRefillWithoutCreditsStartsFullAndClearingTheCreditsRemovesIt() throws {
        var harness = Harness()
        let refill = CreditRefill(amount: 7, interval: .monthly)
        let (record, _) = try harness.create(KeyDraft(refill: refill), nowMs: Self.midJanuary)
        #expect(record.credits == 7)
        let cleared = try harness.update(record.id, KeyChanges(credits: .clear), nowMs: Self.midJanuary + 1)
        #expect(cleared.credits == nil)
        #expect(cleared.refill == nil)
        let refilled = try harness.update(record.id, KeyChanges(refill: .set(refill)), nowMs: Self.midJanuary + 2)
        #expect(refilled.credits == 7)
        #expect(refilled.creditsSetAt == refilled.version)
    }

    @Test func aNegativeRefillIsRefused() {
        var harness = Harness()
        #expect(throws: KeyError.self) {
            try harness.create(KeyDraft(credits: 1, refill: CreditRefill(amount: -1, interval: .daily)))
        }
    }
}
