@testable import GatehouseCore
import GatehouseTestKit
import Testing

/// The compact layout of `KeyIndex` (`StoredKey`, `SharedValues`, `SlotTable`): whatever it
/// keeps and however, a record comes back exactly as applied and every secret finds its key.
@Suite("Compact index: records come back whole, secrets find their keys")
struct CompactIndexTests {
    static let t0 = Fixture.t0

    @Test("every field of a record comes back as applied, through replacements", arguments: Array(UInt64(0)..<4))
    func recordsComeBackWhole(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var index = KeyIndex()
        var held: [String: KeyRecord] = [:]
        for number in 0..<600 {
            let record = Self.randomRecord(id: "key_\(seed)_\(number)", &random)
            let change = index.apply(record)
            #expect(Self.inserted(change))
            held[record.id] = record
        }
        // Newer versions of a third of them, with other contents but the same id.
        for (id, old) in held.sorted(by: { $0.key < $1.key }) where random.next() % 3 == 0 {
            var newer = Self.randomRecord(id: id, &random)
            newer.version = HybridTimestamp(wallMs: old.version.wallMs + 1, logical: 0, node: old.version.node)
            newer.secretGeneration = old.secretGeneration
            newer.revokedAt = old.revokedAt
            let change = index.apply(newer)
            #expect(Self.replaced(change))
            held[id] = KeyRecord.merged(old, newer)
        }
        #expect(index.count == held.count)
        for (id, record) in held {
            #expect(index.record(id: id) == record)
        }
        #expect(index.record(id: "key_missing") == nil)
    }

    @Test("shared values are held once and forgotten with their last key")
    func sharedValuesAreCounted() throws {
        var index = KeyIndex()
        var random = SeededGenerator(seed: 9)
        var records: [KeyRecord] = []
        for number in 0..<50 {
            var record = Self.randomRecord(id: "key_shared_\(number)", &random)
            record.scopes = ["read", "write"]
            record.owner = number < 25 ? "alice" : "bob"
            records.append(record)
            _ = index.apply(record)
        }
        #expect(index.sharedValueCounts["scopes"] == 1)
        #expect(index.sharedValueCounts["owners"] == 2)
        // Every "bob" key moves to a new owner: "bob" is no longer held.
        for var record in records[25...] {
            record.owner = "carol"
            record.version = HybridTimestamp(wallMs: record.version.wallMs + 1, logical: 0, node: "n")
            _ = index.apply(record)
        }
        #expect(index.sharedValueCounts["owners"] == 2)
        #expect(index.list(owner: "bob", after: nil, limit: 100).isEmpty)
        #expect(index.list(owner: "carol", after: nil, limit: 100).count == 25)
    }

    @Test("a revoke holds whatever time it carries, the extremes included")
    func revokedAtAnyTime() throws {
        for revokedAt in [Int64.min, -1, 0, Self.t0, Int64.max] {
            var harness = Harness()
            let (record, secret) = try harness.create()
            var revoked = record
            revoked.revokedAt = revokedAt
            revoked.version = Fixture.version(Self.t0 + 1)
            let applied = harness.keeper.apply(revoked)
            #expect(applied)
            #expect(harness.verify(secret, at: Self.t0 + 2).code == .revoked)
            #expect(harness.keeper.record(id: record.id)?.revokedAt == revokedAt)
        }
    }

    @Test("thousands of keys, through every table rebuild: each secret finds its key, rotated-out ones until their grace ends")
    func secretsFindTheirKeysThroughRebuilds() throws {
        var harness = Harness()
        var keys: [(id: String, secret: String)] = []
        for _ in 0..<3_000 {
            let (record, secret) = try harness.create(KeyDraft(owner: "o", limits: []))
            keys.append((record.id, secret))
        }
        var rotated: [(old: String, new: String)] = []
        for (number, key) in keys.enumerated() where number % 7 == 0 {
            let secret = try harness.rotate(key.id, graceMs: 1_000, nowMs: Self.t0 + 10).secret
            rotated.append((key.secret, secret))
        }
        let rotatedOut = Set(rotated.map(\.old))
        for key in keys {
            let answer = harness.verify(key.secret, at: Self.t0 + 20)
            #expect(answer.code == .valid)
            #expect(answer.keyID == key.id)
            if rotatedOut.contains(key.secret) {
                #expect(harness.verify(key.secret, at: Self.t0 + 10 + 1_000).code == .expired)
            }
        }
        for pair in rotated { #expect(harness.verify(pair.new, at: Self.t0 + 2_000).code == .valid) }
        let unknown = harness.unknownKey()
        #expect(harness.verify(unknown, at: Self.t0 + 20).code == .notFound)
    }

    @Test("listing: id order, an owner's keys only, after a cursor, at most the limit")
    func listingMatchesSortingEverything() {
        var index = KeyIndex()
        var random = SeededGenerator(seed: 21)
        var records: [KeyRecord] = []
        for number in 0..<400 {
            var record = Self.randomRecord(id: "key_\(random.next() % 1_000_000)_\(number)", &random)
            record.owner = ["a", "b", "c"][number % 3]
            records.append(record)
            _ = index.apply(record)
        }
        for owner in [nil, "a", "c", "nobody"] as [String?] {
            for cursor in [nil, records[17].id, records[301].id, "key_9", "zzz"] as [String?] {
                for limit in [0, 1, 7, 1_000] {
                    let expected = records.filter { owner == nil || $0.owner == owner }.map(\.id)
                        .filter { cursor == nil || $0 > cursor! }.sorted().prefix(limit)
                    #expect(index.list(owner: owner, after: cursor, limit: limit).map(\.id) == Array(expected))
                }
            }
        }
    }

    @Test("a slot table finds every slot stored under a hash, and forgets only the one removed")
    func slotTableCollisions() {
        var table = SlotTable()
        // The same hash for five slots, and hashes that differ only in their fragment.
        for slot in 0..<5 { table.insert(hash: 0xABCD_0000_0000_0001, slot: slot) }
        table.insert(hash: 0xABCD_0000_0000_0002, slot: 9)
        #expect(Array(table.candidates(of: 0xABCD_0000_0000_0001)).sorted() == [0, 1, 2, 3, 4])
        #expect(Array(table.candidates(of: 0xABCD_0000_0000_0002)) == [9])
        let removed = table.remove(hash: 0xABCD_0000_0000_0001, slot: 2)
        let removedAgain = table.remove(hash: 0xABCD_0000_0000_0001, slot: 2)
        #expect(removed && !removedAgain)
        #expect(Array(table.candidates(of: 0xABCD_0000_0000_0001)).sorted() == [0, 1, 3, 4])
        #expect(Array(table.candidates(of: 0xABCD_0000_0000_0002)) == [9])
        #expect(table.count == 5)
        var inserted = 0
        while !table.needsRebuild(adding: 1) {
            table.insert(hash: UInt64(inserted) &* 0x9E37_79B9_7F4A_7C15, slot: 100 + inserted)
            inserted += 1
        }
        #expect(inserted > 0)
        #expect(table.capacity >= table.count)
    }

    @Test("a shared value is kept while a key uses it; its ordinal is reused after")
    func sharedValuesRetainAndRelease() {
        var values = SharedValues<[String]>()
        let first = values.retain(["a"])
        #expect(values.retain(["a"]) == first)
        let second = values.retain(["b"])
        #expect(second != first)
        values.release(first)
        #expect(values.ordinal(of: ["a"]) == first)
        values.release(first)
        #expect(values.ordinal(of: ["a"]) == nil)
        #expect(values.count == 1)
        #expect(values.retain(["c"]) == first)
        #expect(values[second] == ["b"])
        // The last value retained is remembered; one forgotten since is never handed out again.
        values.release(first)
        let again = values.retain(["a"])
        #expect(values[again] == ["a"])
        #expect(values.ordinal(of: ["c"]) == nil)
    }

    // MARK: Support

    static func inserted(_ change: KeyIndex.Change) -> Bool {
        if case .inserted = change { return true }
        return false
    }

    static func replaced(_ change: KeyIndex.Change) -> Bool {
        if case .replaced = change { return true }
        return false
    }

    /// A record with every field drawn, optional ones sometimes absent, times sometimes at
    /// the extremes of `Int64`.
    static func randomRecord(id: String, _ random: inout SeededGenerator) -> KeyRecord {
        func time() -> Int64 {
            switch random.next() % 5 {
            case 0: [Int64.min, .max, 0, -1].randomElement(using: &random)!
            default: t0 + Int64(random.next() % 1_000_000)
            }
        }
        func maybe<T>(_ make: () -> T) -> T? { random.next() % 2 == 0 ? make() : nil }
        func word() -> String { ["x", "read", "orders:*", "a-much-longer-value-than-fifteen-bytes", ""].randomElement(using: &random)! }
        func lookup() -> LookupHash { LookupHash(w0: random.next(), w1: random.next(), w2: random.next(), w3: random.next()) }
        func form() -> SecretForm { SecretForm.allCases.randomElement(using: &random)! }
        var meta: [String: String] = [:]
        for _ in 0..<Int(random.next() % 3) { meta[word() + "\(random.next() % 10)"] = word() }
        let version = HybridTimestamp(wallMs: t0 + Int64(random.next() % 1_000), logical: UInt32(random.next() % 5), node: ["n1", "n2"].randomElement(using: &random)!)
        return KeyRecord(
            id: id, lookup: lookup(), start: String(word().prefix(8)), name: word(), owner: word(),
            scopes: (0..<Int(random.next() % 4)).map { _ in word() }, enabled: random.next() % 2 == 0, createdAt: time(),
            expiresAt: maybe(time), limits: (0..<Int(random.next() % 3)).map { _ in
                RateLimit(name: word(), limit: Int64(random.next() % 1_000), windowMs: 1_000, strict: random.next() % 2 == 0)
            },
            credits: maybe { Int64(random.next() % 100) }, creditsSetAt: maybe { version }, meta: meta, revokedAt: maybe(time),
            lastUsedAt: maybe(time),
            retiredSecrets: (0..<Int(random.next() % 3)).map { _ in RetiredSecret(lookup: lookup(), start: "gk_x", validUntil: time(), form: form()) },
            version: version, secretGeneration: UInt32(random.next() % 3), holders: maybe { ["n1", "n2"] } ?? [],
            refill: nil, secretForm: form())
    }
}
