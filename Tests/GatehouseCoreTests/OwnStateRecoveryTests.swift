import GatehouseCore
import GatehouseTestKit
import Testing

/// A node that starts in a cluster does not know what it admitted, spent and handed over
/// before: until its peers give that back (or the recovery's time is up) strict limits and
/// credits refuse with a short retry and it hands nothing over; default-mode limits answer.
@Suite("Own state recovery")
struct OwnStateRecoveryTests {
    struct Keys {
        var gatekeeper: Gatekeeper
        var strict: (id: String, secret: String)
        var credited: (id: String, secret: String)
        var loose: (id: String, secret: String)
    }

    /// One node of two ("local", "peer"), with a key of each kind held by both.
    static func keys() throws -> Keys {
        var gatekeeper = Gatekeeper(hasher: Fixture.hasher)
        gatekeeper.setLiveMembers(["local", "peer"])
        var random = SeededGenerator(seed: 9)
        func make(_ draft: KeyDraft) throws -> (id: String, secret: String) {
            var created = try KeyLifecycle.create(
                draft, defaultLimits: [], hasher: Fixture.hasher, nowMs: Fixture.t0, version: Fixture.version(Fixture.t0), using: &random)
            created.record.holders = ["local", "peer"]
            gatekeeper.apply(created.record)
            return (created.record.id, created.secret)
        }
        let strict = try make(KeyDraft(limits: [RateLimit(name: "m", limit: 10, windowMs: 60_000, strict: true)]))
        var draft = KeyDraft()
        draft.credits = 10
        let credited = try make(draft)
        let loose = try make(KeyDraft(limits: [RateLimit(name: "m", limit: 10, windowMs: 60_000)]))
        return Keys(gatekeeper: gatekeeper, strict: strict, credited: credited, loose: loose)
    }

    @Test func strictLimitsAndCreditsWaitWhileDefaultLimitsAnswer() throws {
        var keys = try Self.keys()
        let now = Fixture.t0 + 10
        keys.gatekeeper.beginOwnStateRecovery(untilMs: now + 30_000)
        #expect(keys.gatekeeper.isRecoveringOwnState(nowMs: now))

        let strict = keys.gatekeeper.verify(key: keys.strict.secret, VerifyRequest(), nowMs: now)
        #expect(strict.code == .rateLimited)
        #expect(strict.retryAfterMs == keys.gatekeeper.settings.recoveryRetryAfterMs)
        let credited = keys.gatekeeper.verify(key: keys.credited.secret, VerifyRequest(), nowMs: now)
        #expect(credited.code == .rateLimited, "not USAGE_EXCEEDED: the credits may be there")
        #expect(credited.retryAfterMs == keys.gatekeeper.settings.recoveryRetryAfterMs)
        #expect(keys.gatekeeper.verify(key: keys.loose.secret, VerifyRequest(), nowMs: now).code == .valid)
        // Asking at cost 0 spends nothing, and is answered as before.
        #expect(keys.gatekeeper.verify(key: keys.strict.secret, VerifyRequest(cost: 0), nowMs: now).code == .valid)

        let want = EscrowWant(ledger: .window(keyID: keys.strict.id, limit: "m", windowMs: 60_000), quota: 10, amount: 3)
        #expect(keys.gatekeeper.handOver(want, to: "peer", nowMs: now) == nil, "it does not know yet what it holds")

        keys.gatekeeper.endCounterRecovery()
        #expect(!keys.gatekeeper.isRecoveringOwnState(nowMs: now))
        #expect(keys.gatekeeper.verify(key: keys.strict.secret, VerifyRequest(), nowMs: now).code == .valid)
        #expect(keys.gatekeeper.verify(key: keys.credited.secret, VerifyRequest(), nowMs: now).code == .valid)
        #expect(keys.gatekeeper.handOver(want, to: "peer", nowMs: now) != nil)
    }

    /// Alone (no peer ever answers), the wait ends at its deadline.
    @Test func theWaitEndsAtItsDeadlineWhenNobodyAnswers() throws {
        var keys = try Self.keys()
        keys.gatekeeper.beginOwnStateRecovery(untilMs: Fixture.t0 + 1_000)
        #expect(keys.gatekeeper.verify(key: keys.strict.secret, VerifyRequest(), nowMs: Fixture.t0 + 999).code == .rateLimited)
        #expect(keys.gatekeeper.verify(key: keys.strict.secret, VerifyRequest(), nowMs: Fixture.t0 + 1_000).code == .valid)
        #expect(keys.gatekeeper.verify(key: keys.credited.secret, VerifyRequest(), nowMs: Fixture.t0 + 1_000).code == .valid)
    }
}
