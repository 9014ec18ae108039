import GatehouseCore
import GatehouseTestKit
import Testing

/// The merge of a key's replicas (`KeyRecord.merged`, `RecordPrecedence`) as properties over
/// random histories: several nodes with skewed clocks edit, rotate and revoke one key, each
/// from whatever copy it holds; every version any node wrote is then merged in every order.
@Suite("Record merge: a join, where revoked dominates and rotations stick")
struct RecordMergeTests {
    /// Every version of one key that a random history produced.
    static func history(seed: UInt64, writes: Int = 24) throws -> [KeyRecord] {
        var random = SeededGenerator(seed: seed)
        let nodes = ["n1", "n2", "n3"]
        // Clock offsets up to ±5 s: a node running ahead writes "later" versions.
        let skew = nodes.map { _ in Int64.random(in: -5_000...5_000, using: &random) }
        var clocks = nodes.map { HybridClock(node: $0) }
        var nowMs = Fixture.t0
        let (first, _) = try KeyLifecycle.create(
            KeyDraft(name: "k", owner: "acct", scopes: ["read"]), defaultLimits: [.defaultHourly], hasher: Fixture.hasher,
            nowMs: nowMs, version: clocks[0].tick(nowMs: nowMs), using: &random)
        // What each node holds: it only learns other nodes' writes now and then.
        var held = nodes.map { _ in first }
        var versions = [first]
        for _ in 0..<writes {
            nowMs += Int64.random(in: 1...500, using: &random)
            let node = Int.random(in: 0..<nodes.count, using: &random)
            if Int.random(in: 0..<3, using: &random) == 0 {
                let other = versions.randomElement(using: &random)!
                held[node] = KeyRecord.merged(held[node], other)
                clocks[node].observe(other.version, nowMs: nowMs + skew[node])
            }
            let version = clocks[node].tick(nowMs: nowMs + skew[node])
            let current = held[node]
            let next: KeyRecord
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                next = KeyLifecycle.revoke(current, nowMs: nowMs, version: version)
            case 1, 2:
                guard !current.isRevoked else { continue }
                next = try KeyLifecycle.rotate(
                    current, graceMs: 60_000, hasher: Fixture.hasher, nowMs: nowMs, version: version, using: &random).record
            default:
                guard !current.isRevoked else { continue }
                next = try KeyLifecycle.update(current, with: KeyChanges(name: "edit \(version)"), nowMs: nowMs, version: version)
            }
            guard next != current else { continue }
            held[node] = next
            versions.append(next)
        }
        return versions
    }

    static let seeds: [UInt64] = Array(1...40)

    @Test(arguments: seeds)
    func mergeIsCommutativeAssociativeAndIdempotent(seed: UInt64) throws {
        let versions = try Self.history(seed: seed)
        var random = SeededGenerator(seed: seed &* 31)
        for _ in 0..<200 {
            let a = versions.randomElement(using: &random)!
            let b = versions.randomElement(using: &random)!
            let c = versions.randomElement(using: &random)!
            #expect(KeyRecord.merged(a, b) == KeyRecord.merged(b, a))
            #expect(KeyRecord.merged(KeyRecord.merged(a, b), c) == KeyRecord.merged(a, KeyRecord.merged(b, c)))
            #expect(KeyRecord.merged(a, a) == a)
        }
    }

    @Test(arguments: seeds)
    func everyOrderOfArrivalEndsInTheSameRecord(seed: UInt64) throws {
        let versions = try Self.history(seed: seed)
        var random = SeededGenerator(seed: seed &* 17)
        let expected = versions.dropFirst().reduce(versions[0], KeyRecord.merged)
        for _ in 0..<20 {
            let shuffled = versions.shuffled(using: &random)
            #expect(shuffled.dropFirst().reduce(shuffled[0], KeyRecord.merged) == expected)
        }
    }

    @Test(arguments: seeds)
    func aRevokedVersionWinsOverEveryLiveOneWhateverItsClock(seed: UInt64) throws {
        let versions = try Self.history(seed: seed)
        for revoked in versions where revoked.isRevoked {
            for live in versions where !live.isRevoked {
                #expect(KeyRecord.merged(live, revoked).isRevoked)
                #expect(KeyRecord.merged(revoked, live).isRevoked)
            }
        }
        let all = versions.dropFirst().reduce(versions[0], KeyRecord.merged)
        #expect(all.isRevoked == versions.contains(where: \.isRevoked))
    }

    /// A secret replaced by a rotation never becomes current again through a merge (unless
    /// the merge is a revoke, which verifies nothing), and a
    /// retired one is never valid for longer than some rotation of the history gave it
    /// (of two concurrent rotations one wins whole, with its own `valid_until`).
    @Test(arguments: seeds)
    func aRotatedOutSecretNeverRegainsValidity(seed: UInt64) throws {
        let versions = try Self.history(seed: seed)
        var longestGrant: [LookupHash: Int64] = [:]
        for version in versions {
            for retired in version.retiredSecrets {
                longestGrant[retired.lookup] = max(longestGrant[retired.lookup] ?? .min, retired.validUntil)
            }
        }
        for rotated in versions where rotated.secretGeneration > 0 {
            for other in versions {
                let merged = KeyRecord.merged(rotated, other)
                // A revoked winner verifies no secret at all, whichever it names.
                guard !merged.isRevoked else { continue }
                #expect(merged.secretGeneration >= rotated.secretGeneration)
                for retired in rotated.retiredSecrets {
                    #expect(merged.lookup != retired.lookup)
                }
                for retired in merged.retiredSecrets {
                    #expect(retired.validUntil <= longestGrant[retired.lookup]!)
                }
            }
        }
    }

    @Test func anEditWithALaterClockOnANodeThatMissedTheRevokeDoesNotUndoIt() throws {
        var random = SeededGenerator(seed: 7)
        let (key, _) = try KeyLifecycle.create(
            KeyDraft(name: "k"), defaultLimits: [.defaultHourly], hasher: Fixture.hasher, nowMs: Fixture.t0,
            version: Fixture.version(Fixture.t0), using: &random)
        let revoked = KeyLifecycle.revoke(key, nowMs: Fixture.t0 + 10, version: Fixture.version(Fixture.t0 + 10, node: "n1"))
        // n3 never heard of the revoke, and its clock runs an hour ahead.
        let edited = try KeyLifecycle.update(
            key, with: KeyChanges(name: "edited on n3"), nowMs: Fixture.t0 + 20,
            version: Fixture.version(Fixture.t0 + 3_600_000, node: "n3"))

        var index = Gatekeeper(hasher: Fixture.hasher)
        index.apply(revoked)
        #expect(index.apply(edited) == false)
        #expect(index.record(id: key.id)?.isRevoked == true)

        var other = Gatekeeper(hasher: Fixture.hasher)
        other.apply(edited)
        #expect(other.apply(revoked) == true)
        #expect(other.record(id: key.id) == index.record(id: key.id))
    }

    @Test func theDigestExchangeSendsAnOlderRevokeToAReplicaHoldingALaterEdit() {
        let revoke = ReplicaEntry(
            id: "key_a", precedence: RecordPrecedence(revoked: true, secretGeneration: 0, version: Fixture.version(10)))
        let laterEdit = ReplicaEntry(id: "key_a", precedence: .live(Fixture.version(99, node: "n3")))
        let fromRevokedSide = ReplicaDiff.compare(ours: [revoke], theirs: [laterEdit])
        #expect(fromRevokedSide.send == ["key_a"])
        #expect(fromRevokedSide.request.isEmpty)
        let fromEditedSide = ReplicaDiff.compare(ours: [laterEdit], theirs: [revoke])
        #expect(fromEditedSide.send.isEmpty)
        #expect(fromEditedSide.request == ["key_a"])
    }
}
