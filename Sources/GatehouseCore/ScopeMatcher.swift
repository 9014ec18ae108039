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
            if grant.utf8.last == UInt8(ascii: "*") && isPrefix(of: scope, grantStem: grant) { return true }
        }
        return false
    }

    /// Whether `scope` starts with `grant` minus its final `*`, compared as raw UTF-8 bytes
    /// (the generic `starts(with:)` on UTF-8 views costs more than the whole lookup).
    @usableFromInline
    static func isPrefix(of scope: String, grantStem grant: String) -> Bool {
        var scope = scope
        var grant = grant
        return grant.withUTF8 { grantBytes in
            let stem = grantBytes.count - 1
            return scope.withUTF8 { scopeBytes in
                guard scopeBytes.count >= stem else { return false }
                for index in 0..<stem where scopeBytes[index] != grantBytes[index] { return false }
                return true
            }
        }
    }
}
