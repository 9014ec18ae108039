/// Scope checks: a key's scope `orders:*` grants every scope that starts with `orders:`,
/// a lone `*` grants everything, anything else must match exactly.
public enum ScopeMatcher {
    /// Whether `granted` allows every scope in `required`.
    @inlinable
    public static func allows(granted: [String], required: [String]) -> Bool {
        for scope in required where !allows(granted: granted, scope: scope) {
            return false
        }
        return true
    }

    @inlinable
    public static func allows(granted: [String], scope: String) -> Bool {
        for grant in granted {
            if grant == scope { return true }
            if grant.utf8.last == UInt8(ascii: "*") {
                let stem = grant.utf8.dropLast()
                if scope.utf8.count >= stem.count && scope.utf8.starts(with: stem) { return true }
            }
        }
        return false
    }
}
