import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Rotation grace through the gatekeeper")
struct KeyRotationTests {
    static let t0 = Fixture.t0

    @Test("after rotate with grace G the old secret is VALID until now+G-1 and EXPIRED from now+G", arguments: [
        Int64(1), 1000, 3_600_000, KeyRules.maxGraceMs,
    ])
    func graceExpiry(grace: Int64) throws {
        var harness = Harness()
        let (record, oldSecret) = try harness.create(KeyDraft(owner: "o", scopes: ["s"]))
        let rotatedAt = Self.t0 + 500
        let (_, newSecret) = try harness.rotate(record.id, graceMs: grace, nowMs: rotatedAt)

        let stillGood = harness.verify(oldSecret, at: rotatedAt + grace - 1)
        #expect(stillGood.code == .valid)
        #expect(stillGood.keyID == record.id)
        let ended = harness.verify(oldSecret, at: rotatedAt + grace)
        #expect(ended.code == .expired)
        #expect(ended.keyID == record.id)
        #expect(ended.owner == "o")
        #expect(harness.verify(newSecret, at: rotatedAt).code == .valid)
        #expect(harness.verify(newSecret, at: rotatedAt + grace).code == .valid)
        #expect(harness.verify(newSecret, at: rotatedAt + grace + 1_000_000).code == .valid)
    }

    @Test("rotate with grace 0 makes the old secret NOT_FOUND at once")
    func noGrace() throws {
        var harness = Harness()
        let (record, oldSecret) = try harness.create()
        #expect(harness.verify(oldSecret).code == .valid)
        let (_, newSecret) = try harness.rotate(record.id, graceMs: 0, nowMs: Self.t0 + 1)
        let answer = harness.verify(oldSecret, at: Self.t0 + 1)
        #expect(answer.code == .notFound)
        #expect(answer.keyID == nil)
        #expect(harness.verify(newSecret, at: Self.t0 + 1).code == .valid)
    }

    @Test("old and new secrets share the key's rate limits during the grace period")
    func sharedLimits() throws {
        var harness = Harness()
        let (record, oldSecret) = try harness.create(KeyDraft(limits: [RateLimit(name: "x", limit: 3, windowMs: 60_000)]))
        #expect(harness.verify(oldSecret, at: Self.t0 + 1).remaining == 2)
        let (_, newSecret) = try harness.rotate(record.id, graceMs: 10_000, nowMs: Self.t0 + 2)
        #expect(harness.verify(newSecret, at: Self.t0 + 3).remaining == 1)
        #expect(harness.verify(oldSecret, at: Self.t0 + 4).remaining == 0)
        #expect(harness.verify(newSecret, at: Self.t0 + 5).code == .rateLimited)
        #expect(harness.verify(oldSecret, at: Self.t0 + 6).code == .rateLimited)
    }

    @Test("a second rotation keeps the first retired secret until its own end")
    func twoRotations() throws {
        var harness = Harness()
        let (record, first) = try harness.create()
        let (_, second) = try harness.rotate(record.id, graceMs: 10_000, nowMs: Self.t0 + 1000)
        let (_, third) = try harness.rotate(record.id, graceMs: 50_000, nowMs: Self.t0 + 2000)
        #expect(harness.verify(first, at: Self.t0 + 10_999).code == .valid)
        #expect(harness.verify(first, at: Self.t0 + 11_000).code == .expired)
        #expect(harness.verify(second, at: Self.t0 + 51_999).code == .valid)
        #expect(harness.verify(second, at: Self.t0 + 52_000).code == .expired)
        #expect(harness.verify(third, at: Self.t0 + 52_000).code == .valid)
    }

    @Test("a rotation after a retired secret ended drops it: that secret becomes NOT_FOUND")
    func endedSecretsDropped() throws {
        var harness = Harness()
        let (record, first) = try harness.create()
        _ = try harness.rotate(record.id, graceMs: 1000, nowMs: Self.t0 + 1)
        #expect(harness.verify(first, at: Self.t0 + 2000).code == .expired)
        _ = try harness.rotate(record.id, graceMs: 1000, nowMs: Self.t0 + 3000)
        #expect(harness.verify(first, at: Self.t0 + 3001).code == .notFound)
    }

    @Test("revoking after a rotation revokes every secret of the key")
    func revokeAfterRotate() throws {
        var harness = Harness()
        let (record, oldSecret) = try harness.create()
        let (_, newSecret) = try harness.rotate(record.id, graceMs: 60_000, nowMs: Self.t0 + 1)
        try harness.revoke(record.id, nowMs: Self.t0 + 2)
        #expect(harness.verify(oldSecret, at: Self.t0 + 3).code == .revoked)
        #expect(harness.verify(newSecret, at: Self.t0 + 3).code == .revoked)
    }

    @Test("a revoked key can be neither rotated nor updated")
    func revokedCannotRotate() throws {
        var harness = Harness()
        let (record, _) = try harness.create()
        try harness.revoke(record.id, nowMs: Self.t0 + 1)
        let stored = try #require(harness.keeper.record(id: record.id))
        var rng = SeededGenerator(seed: 1)
        let rotateError = keyError {
            try KeyLifecycle.rotate(stored, graceMs: 0, hasher: Fixture.hasher, nowMs: Self.t0 + 2, version: Fixture.version(Self.t0 + 2), using: &rng)
        }
        #expect(rotateError?.code == .revoked)
        let updateError = keyError {
            try KeyLifecycle.update(stored, with: KeyChanges(name: "x"), nowMs: Self.t0 + 2, version: Fixture.version(Self.t0 + 2))
        }
        #expect(updateError?.code == .revoked)
    }
}
