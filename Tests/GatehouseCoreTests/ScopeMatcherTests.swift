import GatehouseCore
import Testing

@Suite("Scope matching with suffix wildcards")
struct ScopeMatcherTests {
    @Test("orders:* grants scopes under orders: only", arguments: [
        ("orders:read", true), ("orders:write", true), ("orders:read:deep", true),
        ("orders", false), ("ordersx", false), ("ordersx:read", false), ("order:read", false),
        ("billing:read", false), ("ORDERS:read", false), ("", false),
    ])
    func prefixWildcard(scope: String, granted: Bool) {
        #expect(ScopeMatcher.allows(granted: ["orders:*"], scope: scope) == granted, "\(scope)")
    }

    @Test("a lone * grants everything", arguments: ["orders:read", "orders", "x", "admin:*", "a:b:c"])
    func starGrantsAll(scope: String) {
        #expect(ScopeMatcher.allows(granted: ["*"], scope: scope))
        #expect(ScopeMatcher.allows(granted: ["*"], required: ["orders:read", scope, "billing"]))
    }

    @Test("a plain scope must match exactly")
    func exactMatch() {
        #expect(ScopeMatcher.allows(granted: ["orders:read"], scope: "orders:read"))
        #expect(!ScopeMatcher.allows(granted: ["orders:read"], scope: "orders:write"))
        #expect(!ScopeMatcher.allows(granted: ["orders:read"], scope: "orders:read:all"))
        #expect(!ScopeMatcher.allows(granted: ["orders:read"], scope: "orders"))
        #expect(!ScopeMatcher.allows(granted: ["orders"], scope: "orders:read"))
    }

    @Test("a required scope with a star is not a wildcard on the request side")
    func requiredStarIsLiteral() {
        #expect(!ScopeMatcher.allows(granted: ["orders:read"], scope: "orders:*"))
        #expect(ScopeMatcher.allows(granted: ["orders:*"], scope: "orders:*"))
    }

    @Test("every required scope must be granted")
    func multipleRequired() {
        let granted = ["orders:*", "billing:read"]
        #expect(ScopeMatcher.allows(granted: granted, required: ["orders:read", "billing:read"]))
        #expect(!ScopeMatcher.allows(granted: granted, required: ["orders:read", "billing:write"]))
        #expect(!ScopeMatcher.allows(granted: granted, required: ["billing:write", "orders:read"]))
        #expect(!ScopeMatcher.allows(granted: granted, required: ["orders:read", "billing:read", "admin"]))
    }

    @Test("no required scopes is always allowed; no granted scopes allows nothing")
    func emptySets() {
        #expect(ScopeMatcher.allows(granted: [], required: []))
        #expect(ScopeMatcher.allows(granted: ["orders:read"], required: []))
        #expect(!ScopeMatcher.allows(granted: [], required: ["orders:read"]))
    }
}
