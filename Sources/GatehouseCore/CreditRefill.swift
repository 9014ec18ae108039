/// A credit quota that refills: at the start of every UTC day or month the key's credits are
/// `amount` again (Unkey's `refill`). The credits a key was given when its quota was set last
/// until the first refill.
public struct CreditRefill: Hashable, Sendable, Codable {
    public enum Interval: String, Hashable, Sendable, Codable, CaseIterable {
        case daily, monthly
    }

    public var amount: Int64
    public var interval: Interval

    public init(amount: Int64, interval: Interval) {
        self.amount = amount
        self.interval = interval
    }

    static let dayMs: Int64 = 86_400_000

    /// The refill period `ms` falls in: UTC days, or UTC months, since 1970-01.
    public func period(atMs ms: Int64) -> Int64 {
        let day = ms >= 0 ? ms / Self.dayMs : (ms + 1) / Self.dayMs - 1
        switch interval {
        case .daily:
            return day
        case .monthly:
            let (year, month, _) = CivilDate.fromDays(day)
            return (year - 1970) * 12 + (month - 1)
        }
    }
}

extension KeyRecord {
    /// The credit period `nowMs` falls in (0 without a refill: one period for ever).
    public func creditPeriod(atMs nowMs: Int64) -> Int64 {
        refill?.period(atMs: nowMs) ?? 0
    }

    /// The quota of a credit period: the credits set for the period they were set in (and any
    /// before it, a clock behind), the refill's amount for every later one.
    public func creditQuota(period: Int64) -> Int64? {
        guard let credits else { return nil }
        guard let refill else { return credits }
        return period <= refill.period(atMs: (creditsSetAt ?? version).wallMs) ? credits : refill.amount
    }
}
