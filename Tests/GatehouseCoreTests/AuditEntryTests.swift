import GatehouseCore
import GatehouseTestKit
import Testing

/// What an audit entry records of a change, and the bounds a peer's entry is held to.
@Suite("Audit entries")
struct AuditEntryTests {
    static func entry(atMs: Int64 = Fixture.t0, changes: [AuditChange] = []) -> AuditEntry {
        var random = SeededGenerator(seed: 9)
        return AuditEntry(
            id: AuditEntry.makeID(atMs: atMs, using: &random), atMs: atMs, node: "n1", actor: "ci-deployer", source: "192.0.2.7", requestID: "req-1",
            action: .keyUpdate, keyID: "key_abc", changes: changes)
    }

    @Test func aCreateListsEveryFieldWithNoBeforeAndNeverTheLookupHash() throws {
        let created = try KeyLifecycleTests.create(KeyDraft(name: "billing", owner: "acct_1", scopes: ["read"]))
        let changes = AuditChanges.between(nil, created.record)
        #expect(changes.allSatisfy { $0.before == nil })
        #expect(changes.first { $0.field == "owner" }?.after == "acct_1")
        #expect(changes.first { $0.field == "scopes" }?.after == "read")
        #expect(changes.first { $0.field == "limits" }?.after == "hour=1000/3600000ms")
        let rendered = changes.map { "\($0.field)=\($0.after ?? "")" }.joined()
        #expect(!rendered.contains(created.secret))
        #expect(!rendered.contains(created.record.lookup.hex))
    }

    @Test func anUpdateListsOnlyWhatChanged() throws {
        let created = try KeyLifecycleTests.create()
        var changes = KeyChanges()
        changes.name = "renamed"
        changes.enabled = false
        let updated = try KeyLifecycle.update(created.record, with: changes, nowMs: Fixture.t0 + 1, version: Fixture.version(Fixture.t0 + 1))
        #expect(AuditChanges.between(created.record, updated) == [
            AuditChange(field: "name", before: nil, after: "renamed"),
            AuditChange(field: "enabled", before: "true", after: "false"),
        ])
    }

    @Test func aRotationShowsTheNewGenerationAndStartButNoSecret() throws {
        let created = try KeyLifecycleTests.create()
        let rotated = try KeyLifecycleTests.rotate(created.record, graceMs: 60_000, nowMs: Fixture.t0 + 5)
        let changes = AuditChanges.between(created.record, rotated.record)
        #expect(Set(changes.map(\.field)) == ["start", "secret_generation", "grace_until"])
        let rendered = changes.map { "\($0.before ?? "") \($0.after ?? "")" }.joined()
        #expect(!rendered.contains(rotated.secret) && !rendered.contains(created.secret))
    }

    @Test func longValuesAreCutAndMarked() {
        let long = String(repeating: "é", count: AuditRules.maxValueBytes)
        let clipped = AuditRules.clipped(long)
        #expect(clipped.utf8.count <= AuditRules.maxValueBytes)
        #expect(clipped.hasSuffix("(cut)"))
        #expect(AuditRules.clipped("short") == "short")
    }

    @Test func aPeersEntryIsHeldToTheBounds() {
        let now = Fixture.t0
        let day: Int64 = 86_400_000
        func rejection(_ entry: AuditEntry) -> AuditRules.Rejection? {
            AuditRules.rejection(of: entry, nowMs: now, retentionMs: day, maxClockSkewMs: 5_000)
        }
        #expect(rejection(Self.entry()) == nil)
        #expect(rejection(Self.entry(atMs: now - 2 * day)) == .expired)
        #expect(rejection(Self.entry(atMs: now + 60_000)) == .future)
        var bad = Self.entry()
        bad.id = "aud_short"
        #expect(rejection(bad) == .malformed)
        bad = Self.entry()
        bad.actor = "Admin With Spaces"
        #expect(rejection(bad) == .malformed)
        bad = Self.entry()
        bad.requestID = "line\nbreak"
        #expect(rejection(bad) == .malformed)
        bad = Self.entry(changes: Array(repeating: AuditChange(field: "meta", before: nil, after: "x"), count: AuditRules.maxChanges + 1))
        #expect(rejection(bad) == .malformed)
        let big = String(repeating: "v", count: AuditRules.maxValueBytes)
        bad = Self.entry(changes: (0..<8).map { _ in AuditChange(field: "meta", before: big, after: big) })
        #expect(rejection(bad) == .malformed, "over the bytes one entry may hold")
    }

    @Test func digestsFindTheHoursThatDiffer() {
        var a = AuditDigest()
        var b = AuditDigest()
        let hour = AuditDigest.bucketMs
        for (index, at) in [Fixture.t0, Fixture.t0 + hour, Fixture.t0 + 2 * hour].enumerated() {
            a.add(atMs: at, fingerprint: UInt64(index + 1))
            b.add(atMs: at, fingerprint: UInt64(index + 1))
        }
        #expect(a.differingHours(from: b).isEmpty)
        b.add(atMs: Fixture.t0 + hour + 1, fingerprint: 99)
        #expect(a.differingHours(from: b) == [AuditDigest.hour(ofMs: Fixture.t0 + hour)])
        #expect(AuditDigest.fingerprint(ofID: "aud_x") == AuditDigest.fingerprint(ofID: "aud_x"))
        #expect(AuditDigest.hour(ofMs: -1) == -1)
        a.removeHours(endingAtOrBefore: Fixture.t0 + hour)
        #expect(a.buckets.count == 2)
    }

    @Test func cursorsRoundTripAndOrderNewestFirst() throws {
        let entry = Self.entry()
        let cursor = try #require(AuditCursor(parsing: AuditCursor(entry).description))
        #expect(cursor == AuditCursor(entry))
        #expect(AuditCursor(parsing: "12-nope") == nil)
        #expect(AuditCursor(parsing: "+\(cursor.description)") == nil)
        #expect(AuditCursor(parsing: "-1-\(entry.id)") == nil)
        #expect(AuditCursor(atMs: 1, id: "b") < AuditCursor(atMs: 2, id: "a"))
        let query = AuditQuery(keyID: "key_abc", before: AuditCursor(atMs: entry.atMs + 1, id: entry.id))
        #expect(query.matches(entry))
        #expect(!AuditQuery(actor: "someone-else").matches(entry))
    }

    @Test func idsMadeLaterSortLaterAndAreWellFormed() {
        var random = SeededGenerator(seed: 3)
        let times: [Int64] = [0, 1, 61, 1_800_000_000_000, 1_800_000_000_001, 1_800_000_060_000, 4_000_000_000_000]
        let ids = times.map { AuditEntry.makeID(atMs: $0, using: &random) }
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy(AuditEntry.isWellFormedID))
        #expect(Set((0..<1_000).map { _ in AuditEntry.makeID(atMs: 1_800_000_000_000, using: &random) }).count == 1_000)
        #expect(AuditEntry.isWellFormedID(AuditEntry.makeID(atMs: -5, using: &random)))
    }
}
