import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Replica digests and anti-entropy diffs")
struct ReplicaDigestTests {
    static func version(_ wall: Int64, _ node: String = "n1") -> HybridTimestamp {
        HybridTimestamp(wallMs: wall, logical: 0, node: node)
    }

    @Test func digestsAgreeWhateverTheOrderAndDifferOnlyWhereRecordsDo() {
        var a = ReplicaDigest()
        var b = ReplicaDigest()
        let entries = (0..<500).map { ReplicaEntry(id: "key_\($0)", precedence: .live(Self.version(Int64($0)))) }
        for entry in entries { a.add(id: entry.id, version: entry.version) }
        for entry in entries.reversed() { b.add(id: entry.id, version: entry.version) }
        #expect(a == b)
        #expect(a.fingerprint == b.fingerprint)
        b.add(id: "key_7", version: Self.version(7))
        b.add(id: "key_7", version: Self.version(8))
        #expect(a.differingBuckets(from: b) == [ReplicaDigest.bucket(of: "key_7")])
        #expect(a.fingerprint != b.fingerprint)
    }

    @Test func theDiffSendsWhatIsNewerHereAndRequestsWhatIsNewerThere() {
        let ours = [
            ReplicaEntry(id: "a", precedence: .live(Self.version(5))), ReplicaEntry(id: "b", precedence: .live(Self.version(1))),
            ReplicaEntry(id: "c", precedence: .live(Self.version(3))), ReplicaEntry(id: "only-ours", precedence: .live(Self.version(1))),
        ]
        let theirs = [
            ReplicaEntry(id: "a", precedence: .live(Self.version(4))), ReplicaEntry(id: "b", precedence: .live(Self.version(2))),
            ReplicaEntry(id: "c", precedence: .live(Self.version(3))), ReplicaEntry(id: "only-theirs", precedence: .live(Self.version(9))),
        ]
        let diff = ReplicaDiff.compare(ours: ours, theirs: theirs)
        #expect(diff.send == ["a", "only-ours"])
        #expect(diff.request == ["b", "only-theirs"])
    }

    /// Random writes on random replicas, exchanged only by digest → diff → records between
    /// random pairs, converge to exactly the sequential last-writer-wins model.
    @Test(arguments: [1, 2, 3])
    func randomWritesConvergeToTheLastWriterWinsModel(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let hasher = LookupHasher(pepper: Array("replica-test-pepper-0123456789abcdef".utf8))
        var replicas = (0..<5).map { _ in Gatekeeper(hasher: hasher) }
        var model: [String: KeyRecord] = [:]
        let ids = (0..<40).map { "key_\($0)" }
        for step in 0..<400 {
            let node = Int(random.next() % 5)
            let id = ids[Int(random.next() % UInt64(ids.count))]
            let version = HybridTimestamp(wallMs: Int64(random.next() % 1_000), logical: UInt32(step), node: "n\(node)")
            let record = KeyRecord(
                id: id, lookup: hasher.hash("secret-\(id)-\(step)"), start: "gk_x", name: "v\(step)", owner: "o", scopes: [],
                enabled: true, createdAt: 0, expiresAt: nil, limits: [], credits: nil, creditsSetAt: nil, meta: [:],
                revokedAt: nil, lastUsedAt: nil, retiredSecrets: [], version: version)
            replicas[node].apply(record)
            if model[id].map({ $0.version < version }) ?? true { model[id] = record }
        }
        for _ in 0..<200 {
            let a = Int(random.next() % 5)
            let b = (a + 1 + Int(random.next() % 4)) % 5
            let buckets = Set(replicas[a].digest.differingBuckets(from: replicas[b].digest))
            guard !buckets.isEmpty else { continue }
            let diff = ReplicaDiff.compare(ours: replicas[a].entries(inBuckets: buckets), theirs: replicas[b].entries(inBuckets: buckets))
            for record in replicas[a].records(ids: diff.send) { replicas[b].apply(record) }
            for record in replicas[b].records(ids: diff.request) { replicas[a].apply(record) }
        }
        let expected = ReplicaDigest(buckets: {
            var digest = ReplicaDigest()
            for record in model.values { digest.add(id: record.id, version: record.version) }
            return digest.buckets
        }())
        for replica in replicas {
            #expect(replica.digest == expected)
            for (id, record) in model { #expect(replica.record(id: id)?.name == record.name) }
        }
    }
}
