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
            let (year, month) = Self.civilMonth(fromDays: day)
            return (year - 1970) * 12 + (month - 1)
        }
    }

    /// Year and month (1…12) of a day counted from 1970-01-01, in the proleptic Gregorian
    /// calendar (Howard Hinnant's `civil_from_days`): arithmetic only, no calendar library.
    static func civilMonth(fromDays days: Int64) -> (year: Int64, month: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
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
