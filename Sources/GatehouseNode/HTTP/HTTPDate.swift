import GatehouseCore

/// The HTTP-date of RFC 9110 §5.6.7 in its only generated form, IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), as the `Sunset` header (RFC 8594) requires.
enum HTTPDate {
    /// Starting with Thursday: 1970-01-01, day 0, was one.
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The IMF-fixdate of a Unix time in seconds.
    static func format(unixSeconds: Int64) -> String {
        let (days, secondOfDay) = (unixSeconds.floorDivided(by: 86_400), unixSeconds.floorModulo(86_400))
        let (year, month, day) = CivilDate.fromDays(days)
        let weekday = weekdays[Int(days.floorModulo(7))]
        let time = "\((secondOfDay / 3600).zeroPadded(2)):\((secondOfDay / 60 % 60).zeroPadded(2)):\((secondOfDay % 60).zeroPadded(2))"
        return "\(weekday), \(day.zeroPadded(2)) \(months[Int(month) - 1]) \(year.zeroPadded(4)) \(time) GMT"
    }
}
