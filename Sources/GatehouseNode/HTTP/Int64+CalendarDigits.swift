/// Integer helpers of the time formats (`JSONTime`, `HTTPDate`): division that rounds toward
/// minus infinity, so times before 1970 fall on the right day, and fixed-width digits.
extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    func floorModulo(_ divisor: Int64) -> Int64 {
        self - floorDivided(by: divisor) * divisor
    }

    /// The decimal digits, left-padded with zeros to `width`.
    func zeroPadded(_ width: Int) -> String {
        let digits = String(self)
        return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}
