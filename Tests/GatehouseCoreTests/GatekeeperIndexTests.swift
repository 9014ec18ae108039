import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Gatekeeper index: last-writer-wins apply and listing")
struct GatekeeperIndexTests {
    static let t0 = Fixture.t0

    @Test("a new record is installed; the same record again changes nothing")
    func installOnce() throws {
        var harness = Harness()
        let (record, _) = try harness.create()
        #expect(harness.keeper.keyCount == 1)
        #expect(harness.keeper.record(id: record.id) == record)
        let again = harness.keeper.apply(record)
        #expect(!again)
        #expect(harness.keeper.keyCount == 1)
        #expect(harness.keeper.record(id: "key_nope") == nil)
    }

    @Test("an older version is ignored, a newer one replaces")
    func lastWriterWins() throws {
        var harness = Harness()
        let (v1, secret) = try harness.create(KeyDraft(scopes: ["a"]))
        let v2 = try harness.update(v1.id, KeyChanges(scopes: ["b"], enabled: false), nowMs: Self.t0 + 10)
        #expect(harness.verify(secret, scopes: ["b"], at: Self.t0 + 11).code == .disabled)

        let stale = harness.keeper.apply(v1)
        #expect(!stale)
        #expect(harness.keeper.record(id: v1.id) == v2)
        #expect(harness.verify(secret, scopes: ["b"], at: Self.t0 + 12).code == .disabled)

        let v3 = try harness.update(v1.id, KeyChanges(enabled: true), nowMs: Self.t0 + 20)
        #expect(v3.version > v2.version)
        #expect(harness.verify(secret, scopes: ["b"], at: Self.t0 + 21).code == .valid)
        #expect(harness.verify(secret, scopes: ["a"], at: Self.t0 + 21).code == .insufficientScope)
    }

    @Test("an equal version with other contents is ignored")
    func equalVersionIgnored() throws {
        var harness = Harness()
        let (record, _) = try harness.create()
        var twin = record
        twin.name = "impostor"
        let applied = harness.keeper.apply(twin)
        #expect(!applied)
        #expect(harness.keeper.record(id: record.id)?.name == record.name)
    }

    @Test("replicas converge whatever order the versions arrive in", arguments: Array(UInt64(0)..<10))
    func convergence(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var base = try KeyLifecycle.create(
            KeyDraft(owner: "o"), defaultLimits: [], hasher: Fixture.hasher, nowMs: Self.t0, version: Fixture.version(Self.t0), using: &rng
        ).record
        // Concurrent writes from three nodes, some in the same millisecond.
        // (A node never issues the same timestamp twice, so versions are unique.)
        var versions: [KeyRecord] = [base]
        var used: Set<HybridTimestamp> = [base.version]
        for step in 0..<12 {
            base.name = "write \(step)"
            base.version = HybridTimestamp(
                wallMs: Self.t0 + Int64.random(in: 0...3, using: &rng), logical: UInt32.random(in: 0...2, using: &rng),
                node: ["n1", "n2", "n3"].randomElement(using: &rng)!
            )
            if used.insert(base.version).inserted { versions.append(base) }
        }
        #expect(versions.count > 6)
        let winner = versions.max { $0.version < $1.version }!
        for _ in 0..<3 {
            var keeper = Gatekeeper(hasher: Fixture.hasher)
            for record in versions.shuffled(using: &rng) { keeper.apply(record) }
            #expect(keeper.record(id: base.id)?.version == winner.version)
            #expect(keeper.record(id: base.id)?.name == winner.name)
        }
    }

    @Test("applying a rotation removes the old secret's lookup (grace 0)")
    func rotationRemovesOldLookup() throws {
        var harness = Harness()
        let (v1, oldSecret) = try harness.create()
        var rng = SeededGenerator(seed: 77)
        let (v2, newSecret) = try KeyLifecycle.rotate(
            v1, graceMs: 0, hasher: Fixture.hasher, nowMs: Self.t0 + 5, version: harness.clock.tick(nowMs: Self.t0 + 5), using: &rng
        )
        #expect(harness.verify(newSecret, at: Self.t0 + 6).code == .notFound, "not applied yet")
        let applied = harness.keeper.apply(v2)
        #expect(applied)
        #expect(harness.verify(oldSecret, at: Self.t0 + 6).code == .notFound)
        #expect(harness.verify(newSecret, at: Self.t0 + 6).code == .valid)
        // A late copy of the pre-rotation record does not bring the old secret back.
        let stale = harness.keeper.apply(v1)
        #expect(!stale)
        #expect(harness.verify(oldSecret, at: Self.t0 + 7).code == .notFound)
    }

    @Test("revocation wins over a late copy of an enabled version")
    func revocationSticks() throws {
        var harness = Harness()
        let (v1, secret) = try harness.create()
        try harness.revoke(v1.id, nowMs: Self.t0 + 1)
        let stale = harness.keeper.apply(v1)
        #expect(!stale)
        #expect(harness.verify(secret, at: Self.t0 + 2).code == .revoked)
    }

    @Test("rate-limit counters survive updates that keep a limit, and restart for a changed one")
    func countersAcrossUpdates() throws {
        var harness = Harness()
        let kept = RateLimit(name: "kept", limit: 5, windowMs: 60_000)
        let changed = RateLimit(name: "changed", limit: 4, windowMs: 60_000)
        let (record, secret) = try harness.create(KeyDraft(limits: [kept, changed]))
        for _ in 0..<3 { _ = harness.verify(secret) }
        // changed: 1 left; kept: 2 left.
        #expect(harness.verify(secret).remaining == 0)
        try harness.update(record.id, KeyChanges(name: "renamed"), nowMs: Self.t0 + 1)
        #expect(harness.verify(secret, at: Self.t0 + 2).code == .rateLimited, "counters kept across an unrelated update")

        let raised = RateLimit(name: "changed", limit: 40, windowMs: 60_000)
        try harness.update(record.id, KeyChanges(limits: [raised, kept]), nowMs: Self.t0 + 3)
        let answer = harness.verify(secret, at: Self.t0 + 4)
        #expect(answer.code == .valid)
        #expect(answer.limit == 5, "the kept limit is now the tightest: 4 used before, 1 now")
        #expect(answer.remaining == 0)
    }

    @Test("last_used_at is not lost when a newer record without it arrives")
    func lastUsedMerged() throws {
        var harness = Harness()
        let (record, secret) = try harness.create()
        _ = harness.verify(secret, at: Self.t0 + 100)
        #expect(harness.keeper.record(id: record.id)?.lastUsedAt == Self.t0 + 100)
        var newer = record
        newer.name = "from another node"
        newer.version = harness.clock.tick(nowMs: Self.t0 + 200)
        #expect(newer.lastUsedAt == nil)
        let applied = harness.keeper.apply(newer)
        #expect(applied)
        #expect(harness.keeper.record(id: record.id)?.lastUsedAt == Self.t0 + 100)
        #expect(harness.keeper.record(id: record.id)?.name == "from another node")
    }

    @Test("list by owner pages through ids in order with a cursor")
    func listByOwnerWithCursor() throws {
        var harness = Harness()
        var alice: [String] = []
        for index in 0..<7 {
            alice.append(try harness.create(KeyDraft(owner: "alice"), nowMs: Self.t0 + Int64(index)).record.id)
            _ = try harness.create(KeyDraft(owner: index < 3 ? "bob" : "carol"), nowMs: Self.t0 + Int64(index))
        }
        var pages: [[String]] = []
        var cursor: String?
        while true {
            let page = harness.keeper.list(owner: "alice", after: cursor, limit: 3).map(\.id)
            if page.isEmpty { break }
            pages.append(page)
            cursor = page.last
            if pages.count > 10 { break }
        }
        #expect(pages.map(\.count) == [3, 3, 1])
        #expect(pages.flatMap { $0 } == alice.sorted())
        #expect(harness.keeper.list(owner: "alice", after: nil, limit: 100).allSatisfy { $0.owner == "alice" })
        #expect(harness.keeper.list(owner: "bob", after: nil, limit: 100).count == 3)
        #expect(harness.keeper.list(owner: "nobody", after: nil, limit: 100).isEmpty)
        let everyone = harness.keeper.list(owner: nil, after: nil, limit: 100).map(\.id)
        #expect(everyone.count == 14)
        #expect(everyone == everyone.sorted())
        #expect(harness.keeper.list(owner: nil, after: everyone[9], limit: 100).map(\.id) == Array(everyone[10...]))
    }

    @Test("changing the owner moves the key between owner listings")
    func ownerChange() throws {
        var harness = Harness()
        let (record, _) = try harness.create(KeyDraft(owner: "alice"))
        try harness.update(record.id, KeyChanges(owner: "bob"), nowMs: Self.t0 + 1)
        #expect(harness.keeper.list(owner: "alice", after: nil, limit: 10).isEmpty)
        #expect(harness.keeper.list(owner: "bob", after: nil, limit: 10).map(\.id) == [record.id])
    }
}
