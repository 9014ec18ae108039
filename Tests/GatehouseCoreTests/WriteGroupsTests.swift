import GatehouseCore
import GatehouseTestKit
import Testing

/// Group commit's bookkeeping: who leads, who goes in which group, what later writers see of
/// writes not committed yet, and what a failed commit takes with it.
@Suite("Write groups")
struct WriteGroupsTests {
    /// Waiters are names here; `KeyService` uses continuations.
    typealias Groups = WriteGroups<String>

    static func record(_ id: String, version logical: UInt32, name: String = "n") throws -> KeyRecord {
        var record = try ReplicaCheckTests.record()
        record.id = id
        record.name = name
        record.version = HybridTimestamp(wallMs: Fixture.t0, logical: logical, node: "n1")
        return record
    }

    static func entry(_ id: String) -> AuditEntry {
        var random = SeededGenerator(seed: 1)
        return AuditEntry(
            id: AuditEntry.makeID(atMs: Fixture.t0, using: &random), atMs: Fixture.t0, node: "n1", actor: "admin", source: "",
            requestID: "r", action: .keyUpdate, keyID: id, changes: [])
    }

    static func enqueue(_ groups: inout Groups, _ record: KeyRecord) -> (ticket: Int, leads: Bool) {
        groups.enqueue(record, audit: entry(record.id))
    }

    @Test func writesQueuedBeforeTheLeaderTakesItsGroupShareOneCommit() throws {
        var groups = Groups()
        let a = Self.enqueue(&groups, try Self.record("key_a", version: 1))
        let b = Self.enqueue(&groups, try Self.record("key_b", version: 2))
        let c = Self.enqueue(&groups, try Self.record("key_c", version: 3))
        #expect(a.leads && !b.leads && !c.leads)
        #expect(groups.turn(of: b.ticket, orWait: "b") == nil)
        let group = groups.takeGroup()
        #expect(group.map(\.record.id) == ["key_a", "key_b", "key_c"])
        #expect(groups.queuedCount == 0)
        let resumed = groups.finish(group, committed: true)
        #expect(resumed.map(\.0) == ["b"] && resumed.map(\.1) == [.committed])
        #expect(groups.turn(of: a.ticket, orWait: "a") == .committed)
        #expect(groups.turn(of: c.ticket, orWait: "c") == .committed)
        #expect(Self.enqueue(&groups, try Self.record("key_d", version: 4)).leads, "no commit runs: the next writer leads")
    }

    @Test func writesQueuedDuringACommitGoNextTogetherLedByTheFirst() throws {
        var groups = Groups()
        let a = Self.enqueue(&groups, try Self.record("key_a", version: 1))
        let first = groups.takeGroup()
        let b = Self.enqueue(&groups, try Self.record("key_b", version: 2))
        let c = Self.enqueue(&groups, try Self.record("key_c", version: 3))
        #expect(!b.leads && !c.leads)
        #expect(groups.turn(of: c.ticket, orWait: "c") == nil)
        // b has not waited yet when the first group ends: its turn is kept for it.
        #expect(groups.finish(first, committed: true).isEmpty)
        #expect(groups.turn(of: a.ticket, orWait: "a") == .committed)
        #expect(groups.turn(of: b.ticket, orWait: "b") == .lead)
        let second = groups.takeGroup()
        #expect(second.map(\.ticket) == [b.ticket, c.ticket])
        let resumed = groups.finish(second, committed: true)
        #expect(resumed.map(\.0) == ["c"] && resumed.map(\.1) == [.committed])
        #expect(groups.turn(of: b.ticket, orWait: "b") == .committed)
    }

    @Test func laterWritersSeeUncommittedRecordsUntilTheirCommitEnds() throws {
        var groups = Groups()
        let old = try Self.record("key_a", version: 1, name: "first")
        _ = Self.enqueue(&groups, old)
        let first = groups.takeGroup()
        #expect(groups.pendingRecord(id: "key_a") == old, "visible while its commit runs")
        let newer = try Self.record("key_a", version: 2, name: "second")
        _ = Self.enqueue(&groups, newer)
        _ = groups.finish(first, committed: true)
        #expect(groups.pendingRecord(id: "key_a") == newer, "the older commit ending leaves the newer pending")
        let second = groups.takeGroup()
        _ = groups.finish(second, committed: true)
        #expect(groups.pendingRecord(id: "key_a") == nil)
    }

    @Test func aFailedCommitFailsItsGroupAndEveryWriteQueuedBehindIt() throws {
        var groups = Groups()
        let a = Self.enqueue(&groups, try Self.record("key_a", version: 1))
        let group = groups.takeGroup()
        let b = Self.enqueue(&groups, try Self.record("key_a", version: 2))
        let c = Self.enqueue(&groups, try Self.record("key_c", version: 3))
        #expect(groups.turn(of: b.ticket, orWait: "b") == nil)
        let resumed = groups.finish(group, committed: false)
        #expect(resumed.map(\.0) == ["b"] && resumed.map(\.1) == [.failed])
        #expect(groups.turn(of: a.ticket, orWait: "a") == .failed)
        #expect(groups.turn(of: c.ticket, orWait: "c") == .failed)
        #expect(groups.pendingRecord(id: "key_a") == nil && groups.pendingRecord(id: "key_c") == nil)
        #expect(groups.queuedCount == 0)
        #expect(Self.enqueue(&groups, try Self.record("key_e", version: 4)).leads)
    }
}
