import Foundation
import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Key lifecycle as pure functions")
struct KeyLifecycleTests {
    static let t0 = Fixture.t0

    static func create(
        _ draft: KeyDraft = KeyDraft(owner: "acct_1"), defaultLimits: [RateLimit] = [RateLimit.defaultHourly], seed: UInt64 = 1,
        nowMs: Int64 = t0
    ) throws -> (record: KeyRecord, secret: String) {
        var rng = SeededGenerator(seed: seed)
        return try KeyLifecycle.create(
            draft, defaultLimits: defaultLimits, hasher: Fixture.hasher, nowMs: nowMs, version: Fixture.version(nowMs), using: &rng
        )
    }

    static func rotate(_ record: KeyRecord, graceMs: Int64, nowMs: Int64, seed: UInt64 = 2) throws -> (record: KeyRecord, secret: String) {
        var rng = SeededGenerator(seed: seed)
        return try KeyLifecycle.rotate(
            record, graceMs: graceMs, hasher: Fixture.hasher, nowMs: nowMs, version: Fixture.version(nowMs), using: &rng
        )
    }

    @Test("create fills the record from the draft and keeps only the lookup hash of the secret")
    func create() throws {
        let draft = KeyDraft(
            prefix: "acme", name: "ci key", owner: "acct_7", scopes: ["orders:*"], expiresAt: Self.t0 + 1000,
            credits: 50, meta: ["env": "prod"], enabled: false
        )
        let (record, secret) = try Self.create(draft)
        #expect(APIKeyFormat.isWellFormed(secret))
        #expect(secret.hasPrefix("acme_"))
        #expect(record.lookup == Fixture.hasher.hash(secret))
        #expect(record.start == APIKeyFormat.displayStart(of: secret))
        #expect(record.id.hasPrefix("key_"))
        #expect(record.id.utf8.count == 4 + KeyLifecycle.idRandomLength)
        #expect(record.name == "ci key")
        #expect(record.owner == "acct_7")
        #expect(record.scopes == ["orders:*"])
        #expect(record.enabled == false)
        #expect(record.createdAt == Self.t0)
        #expect(record.expiresAt == Self.t0 + 1000)
        #expect(record.limits == [RateLimit.defaultHourly])
        #expect(record.credits == 50)
        #expect(record.creditsSetAt == Fixture.version(Self.t0))
        #expect(record.meta == ["env": "prod"])
        #expect(record.revokedAt == nil)
        #expect(record.lastUsedAt == nil)
        #expect(record.retiredSecrets.isEmpty)
        #expect(record.version == Fixture.version(Self.t0))
    }

    @Test("the secret is not stored anywhere in the record")
    func secretNotInRecord() throws {
        let (record, secret) = try Self.create()
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(!json.contains(secret))
        #expect(!json.contains(String(secret.dropFirst(3))))
    }

    @Test("explicit limits replace the default, an empty list means no limits, no credits means no quota")
    func limitsAndCredits() throws {
        let custom = [RateLimit(name: "sec", limit: 5, windowMs: 1000)]
        #expect(try Self.create(KeyDraft(limits: custom)).record.limits == custom)
        #expect(try Self.create(KeyDraft(limits: [])).record.limits.isEmpty)
        let plain = try Self.create(KeyDraft()).record
        #expect(plain.credits == nil)
        #expect(plain.creditsSetAt == nil)
    }

    @Test("the same seed creates the same key; different seeds different ids and secrets")
    func deterministic() throws {
        let a = try Self.create(seed: 5)
        let b = try Self.create(seed: 5)
        let c = try Self.create(seed: 6)
        #expect(a.secret == b.secret)
        #expect(a.record == b.record)
        #expect(a.secret != c.secret)
        #expect(a.record.id != c.record.id)
    }

    @Test("update changes only what it names and takes the new version")
    func update() throws {
        let (record, _) = try Self.create(KeyDraft(name: "old", owner: "o1", scopes: ["a"], expiresAt: Self.t0 + 10_000, meta: ["x": "1"]))
        let version = Fixture.version(Self.t0 + 5)
        let next = try KeyLifecycle.update(
            record, with: KeyChanges(name: "new", expiresAt: .clear, enabled: false), nowMs: Self.t0 + 5, version: version
        )
        #expect(next.name == "new")
        #expect(next.expiresAt == nil)
        #expect(next.enabled == false)
        #expect(next.version == version)
        #expect(next.owner == "o1")
        #expect(next.scopes == ["a"])
        #expect(next.meta == ["x": "1"])
        #expect(next.lookup == record.lookup)
        #expect(next.id == record.id)
        #expect(next.createdAt == record.createdAt)
    }

    @Test("setting credits starts a new quota epoch; clearing removes the quota")
    func creditsEpoch() throws {
        let (record, _) = try Self.create(KeyDraft(credits: 10))
        let v1 = Fixture.version(Self.t0 + 1)
        let renamed = try KeyLifecycle.update(record, with: KeyChanges(name: "n"), nowMs: Self.t0 + 1, version: v1)
        #expect(renamed.creditsSetAt == record.creditsSetAt, "an unrelated change keeps the epoch")
        let v2 = Fixture.version(Self.t0 + 2)
        let topped = try KeyLifecycle.update(renamed, with: KeyChanges(credits: .set(100)), nowMs: Self.t0 + 2, version: v2)
        #expect(topped.credits == 100)
        #expect(topped.creditsSetAt == v2)
        let cleared = try KeyLifecycle.update(topped, with: KeyChanges(credits: .clear), nowMs: Self.t0 + 3, version: Fixture.version(Self.t0 + 3))
        #expect(cleared.credits == nil)
        #expect(cleared.creditsSetAt == nil)
    }

    @Test("revoke stamps the time and version; revoking again changes nothing")
    func revoke() throws {
        let (record, _) = try Self.create()
        let revoked = KeyLifecycle.revoke(record, nowMs: Self.t0 + 100, version: Fixture.version(Self.t0 + 100))
        #expect(revoked.revokedAt == Self.t0 + 100)
        #expect(revoked.isRevoked)
        #expect(revoked.version == Fixture.version(Self.t0 + 100))
        let again = KeyLifecycle.revoke(revoked, nowMs: Self.t0 + 200, version: Fixture.version(Self.t0 + 200))
        #expect(again == revoked)
    }

    @Test("revoked keys cannot be updated or rotated")
    func revokedIsFinal() throws {
        let (record, _) = try Self.create()
        let revoked = KeyLifecycle.revoke(record, nowMs: Self.t0 + 1, version: Fixture.version(Self.t0 + 1))
        let updateError = keyError {
            try KeyLifecycle.update(revoked, with: KeyChanges(enabled: true), nowMs: Self.t0 + 2, version: Fixture.version(Self.t0 + 2))
        }
        #expect(updateError?.code == .revoked)
        #expect(updateError?.message.contains(record.id) == true)
        let rotateError = keyError { try Self.rotateTyped(revoked, graceMs: 1000, nowMs: Self.t0 + 2) }
        #expect(rotateError?.code == .revoked)
    }

    static func rotateTyped(_ record: KeyRecord, graceMs: Int64, nowMs: Int64) throws(KeyError) -> KeyRecord {
        var rng = SeededGenerator(seed: 3)
        return try KeyLifecycle.rotate(
            record, graceMs: graceMs, hasher: Fixture.hasher, nowMs: nowMs, version: Fixture.version(nowMs), using: &rng
        ).record
    }

    @Test("rotate issues a new secret with the same prefix and retires the old one for the grace period")
    func rotate() throws {
        let (record, secret) = try Self.create(KeyDraft(prefix: "acme"))
        let (rotated, newSecret) = try Self.rotate(record, graceMs: 60_000, nowMs: Self.t0 + 10)
        #expect(newSecret != secret)
        #expect(newSecret.hasPrefix("acme_"))
        #expect(APIKeyFormat.isWellFormed(newSecret))
        #expect(rotated.lookup == Fixture.hasher.hash(newSecret))
        #expect(rotated.start == APIKeyFormat.displayStart(of: newSecret))
        #expect(rotated.retiredSecrets == [RetiredSecret(lookup: record.lookup, start: record.start, validUntil: Self.t0 + 10 + 60_000)])
        #expect(rotated.version == Fixture.version(Self.t0 + 10))
        #expect(rotated.id == record.id)
    }

    @Test("rotate with grace 0 retires nothing")
    func rotateWithoutGrace() throws {
        let (record, _) = try Self.create()
        #expect(try Self.rotate(record, graceMs: 0, nowMs: Self.t0 + 10).record.retiredSecrets.isEmpty)
    }

    @Test("rotation drops retired secrets that already ended and keeps at most four")
    func retiredSecretsPruned() throws {
        var (record, _) = try Self.create()
        var now = Self.t0
        for round in 0..<6 {
            now += 1
            record = try Self.rotate(record, graceMs: 1_000_000, nowMs: now, seed: UInt64(round + 10)).record
        }
        #expect(record.retiredSecrets.count == KeyRules.maxRetiredSecrets)
        #expect(record.retiredSecrets.map(\.validUntil) == (3...6).map { Self.t0 + Int64($0) + 1_000_000 })
        // Far later, every earlier secret has ended; only the one just retired remains.
        record = try Self.rotate(record, graceMs: 5, nowMs: Self.t0 + 10_000_000, seed: 99).record
        #expect(record.retiredSecrets.count == 1)
        #expect(record.retiredSecrets.first?.validUntil == Self.t0 + 10_000_005)
    }

    @Test("rotate refuses a grace outside the allowed range")
    func rotateBadGrace() throws {
        let (record, _) = try Self.create()
        #expect(keyError { try Self.rotateTyped(record, graceMs: -1, nowMs: Self.t0) }?.field == "grace_ms")
    }

    @Test("a record round-trips through JSON with snake_case fields")
    func recordCodable() throws {
        var (record, _) = try Self.create(KeyDraft(owner: "o", expiresAt: Self.t0 + 5, credits: 3, meta: ["a": "b"]))
        record = try Self.rotate(record, graceMs: 10, nowMs: Self.t0 + 1).record
        record.lastUsedAt = Self.t0 + 2
        let data = try JSONEncoder().encode(record)
        let json = String(decoding: data, as: UTF8.self)
        for field in ["\"created_at\"", "\"expires_at\"", "\"credits_set_at\"", "\"retired_secrets\"", "\"valid_until\"", "\"window_ms\"", "\"last_used_at\""] {
            #expect(json.contains(field), "\(field)")
        }
        #expect(try JSONDecoder().decode(KeyRecord.self, from: data) == record)
    }
}
