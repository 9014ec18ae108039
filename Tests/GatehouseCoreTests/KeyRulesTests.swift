import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Key rules: validation errors name the field")
struct KeyRulesTests {
    static let t0 = Fixture.t0

    /// Creates a key from `draft` and returns the error, if any.
    static func createError(_ draft: KeyDraft, defaultLimits: [RateLimit] = [RateLimit.defaultHourly]) -> KeyError? {
        var rng = SeededGenerator(seed: 1)
        return keyError {
            try KeyLifecycle.create(
                draft, defaultLimits: defaultLimits, hasher: Fixture.hasher, nowMs: t0, version: Fixture.version(t0), using: &rng
            )
        }
    }

    static func expectInvalid(_ error: KeyError?, field: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(error?.code == .invalidField, sourceLocation: sourceLocation)
        #expect(error?.field == field, sourceLocation: sourceLocation)
        #expect(error?.message.isEmpty == false, sourceLocation: sourceLocation)
    }

    @Test("a reasonable draft passes")
    func validDraft() {
        let draft = KeyDraft(
            prefix: "acme", name: "ci", owner: "acct_1", scopes: ["orders:*", "billing:read", "*"],
            limits: [RateLimit(name: "sec", limit: 10, windowMs: 1000), RateLimit(name: "day_1-x", limit: 1, windowMs: KeyRules.maxWindowMs)],
            expiresAt: Self.t0 + 1, credits: 0, meta: ["team": "core"]
        )
        #expect(Self.createError(draft) == nil)
    }

    @Test("meta up to 4096 bytes passes; one byte more names meta")
    func metaSize() {
        let exact = ["k": String(repeating: "v", count: 4095)]
        #expect(Self.createError(KeyDraft(meta: exact)) == nil)
        let over = ["k": String(repeating: "v", count: 4096)]
        Self.expectInvalid(Self.createError(KeyDraft(meta: over)), field: "meta")
        // Keys count too, and multi-byte characters count in UTF-8 bytes.
        let keysAndValues = ["a": String(repeating: "x", count: 2000), "b": String(repeating: "y", count: 2000), String(repeating: "c", count: 100): ""]
        Self.expectInvalid(keyError { try KeyRules.validateMeta(keysAndValues) }, field: "meta")
        Self.expectInvalid(keyError { try KeyRules.validateMeta(["k": String(repeating: "é", count: 2048)]) }, field: "meta")
    }

    @Test("duplicate limit names name limits")
    func duplicateLimitNames() {
        let limits = [RateLimit(name: "hour", limit: 10, windowMs: 3_600_000), RateLimit(name: "hour", limit: 100, windowMs: 60_000)]
        Self.expectInvalid(Self.createError(KeyDraft(limits: limits)), field: "limits")
        let error = keyError { try KeyRules.validateLimits(limits) }
        #expect(error?.message.contains("hour") == true)
    }

    @Test("bad limits name limits", arguments: [
        [RateLimit(name: "", limit: 1, windowMs: 1000)],
        [RateLimit(name: "has space", limit: 1, windowMs: 1000)],
        [RateLimit(name: String(repeating: "a", count: 65), limit: 1, windowMs: 1000)],
        [RateLimit(name: "zero", limit: 0, windowMs: 1000)],
        [RateLimit(name: "negative", limit: -5, windowMs: 1000)],
        [RateLimit(name: "nowindow", limit: 1, windowMs: 0)],
        [RateLimit(name: "toolong", limit: 1, windowMs: KeyRules.maxWindowMs + 1)],
        (0..<17).map { RateLimit(name: "l\($0)", limit: 1, windowMs: 1000) },
    ])
    func badLimits(limits: [RateLimit]) {
        Self.expectInvalid(Self.createError(KeyDraft(limits: limits)), field: "limits")
    }

    @Test("invalid default limits are caught when a draft uses them")
    func badDefaultLimits() {
        let bad = [RateLimit(name: "x", limit: 0, windowMs: 1000)]
        Self.expectInvalid(Self.createError(KeyDraft(), defaultLimits: bad), field: "limits")
        #expect(Self.createError(KeyDraft(limits: []), defaultLimits: bad) == nil)
    }

    @Test("a * anywhere but at the end of a scope names scopes", arguments: ["orders:*:read", "*:read", "**", "a*b", "*orders"])
    func starInTheMiddle(scope: String) {
        Self.expectInvalid(Self.createError(KeyDraft(scopes: [scope])), field: "scopes")
    }

    @Test("other bad scopes name scopes", arguments: [
        [""], ["has space"], ["tab\there"], ["del\u{7F}"], [String(repeating: "s", count: 129)], ["comm\u{E4}nde:read"], ["\u{85}next"],
    ])
    func badScopes(scopes: [String]) {
        Self.expectInvalid(Self.createError(KeyDraft(scopes: scopes)), field: "scopes")
    }

    @Test("at most 64 scopes")
    func scopeCount() {
        #expect(Self.createError(KeyDraft(scopes: (0..<64).map { "s\($0)" })) == nil)
        Self.expectInvalid(Self.createError(KeyDraft(scopes: (0..<65).map { "s\($0)" })), field: "scopes")
    }

    @Test("an expiry now or in the past names expires_at", arguments: [Int64(0), -1, -86_400_000])
    func expiryInThePast(offset: Int64) {
        Self.expectInvalid(Self.createError(KeyDraft(expiresAt: Self.t0 + offset)), field: "expires_at")
    }

    @Test("negative credits name credits; zero is a valid quota")
    func negativeCredits() {
        Self.expectInvalid(Self.createError(KeyDraft(credits: -1)), field: "credits")
        #expect(Self.createError(KeyDraft(credits: 0)) == nil)
    }

    @Test("bad prefixes name prefix", arguments: ["", "GK", "g_k", String(repeating: "a", count: 17)])
    func badPrefix(prefix: String) {
        Self.expectInvalid(Self.createError(KeyDraft(prefix: prefix)), field: "prefix")
    }

    @Test("over-long name and owner name their field")
    func nameAndOwner() {
        #expect(Self.createError(KeyDraft(name: String(repeating: "n", count: 256), owner: String(repeating: "o", count: 256))) == nil)
        Self.expectInvalid(Self.createError(KeyDraft(name: String(repeating: "n", count: 257))), field: "name")
        Self.expectInvalid(Self.createError(KeyDraft(owner: String(repeating: "o", count: 257))), field: "owner")
    }

    @Test("name and owner count characters, not bytes: 256 of any script pass")
    func nameAndOwnerCountCharacters() {
        let wide = String(repeating: "\u{1F511}", count: 256)  // 4 bytes each
        #expect(Self.createError(KeyDraft(name: wide, owner: String(repeating: "\u{732B}", count: 256))) == nil)
        Self.expectInvalid(Self.createError(KeyDraft(name: wide + "k")), field: "name")
        Self.expectInvalid(Self.createError(KeyDraft(owner: String(repeating: "\u{E9}", count: 257))), field: "owner")
        Self.expectInvalid(Self.createError(KeyDraft(name: "line\nbreak")), field: "name")
    }

    @Test("grace outside 0...30 days names grace_ms")
    func grace() {
        #expect(keyError { try KeyRules.validateGrace(0) } == nil)
        #expect(keyError { try KeyRules.validateGrace(KeyRules.maxGraceMs) } == nil)
        Self.expectInvalid(keyError { try KeyRules.validateGrace(-1) }, field: "grace_ms")
        Self.expectInvalid(keyError { try KeyRules.validateGrace(KeyRules.maxGraceMs + 1) }, field: "grace_ms")
    }

    @Test("updates are validated with the same rules and leave nothing half-applied")
    func updateValidation() throws {
        var rng = SeededGenerator(seed: 2)
        let record = try KeyLifecycle.create(
            KeyDraft(owner: "o"), defaultLimits: [], hasher: Fixture.hasher, nowMs: Self.t0, version: Fixture.version(Self.t0), using: &rng
        ).record
        func updateError(_ changes: KeyChanges) -> KeyError? {
            keyError { try KeyLifecycle.update(record, with: changes, nowMs: Self.t0 + 10, version: Fixture.version(Self.t0 + 10)) }
        }
        Self.expectInvalid(updateError(KeyChanges(meta: ["k": String(repeating: "v", count: 4096)])), field: "meta")
        Self.expectInvalid(updateError(KeyChanges(limits: [RateLimit(name: "a", limit: 1, windowMs: 1), RateLimit(name: "a", limit: 2, windowMs: 2)])), field: "limits")
        Self.expectInvalid(updateError(KeyChanges(scopes: ["a:*:b"])), field: "scopes")
        Self.expectInvalid(updateError(KeyChanges(expiresAt: .set(Self.t0 + 10))), field: "expires_at")
        Self.expectInvalid(updateError(KeyChanges(credits: .set(-3))), field: "credits")
        Self.expectInvalid(updateError(KeyChanges(name: "ok", owner: String(repeating: "o", count: 300))), field: "owner")
        #expect(updateError(KeyChanges(expiresAt: .set(Self.t0 + 11))) == nil)
    }

    @Test("the error description carries the code and the field")
    func errorDescription() {
        let error = KeyError(.invalidField, field: "meta", "too big")
        #expect(error.description == "invalid_field (meta): too big")
        #expect(KeyError(.notFound, "no such key").description == "not_found: no such key")
    }
}
