import Dispatch
import GatehouseCore
@testable import GatehouseNode
import Testing

/// Admin writes that arrive while a commit syncs the disk share the next commit, each still
/// answered only once it is durable; writes queued behind others build on them; a failed
/// commit fails exactly the writes that went into it or queued behind it.
///
/// Serialized: each test holds the commit inside the store, on the service's commit queue.
/// Waits are long: with the whole suite running (500-node simulations beside it) a task here
/// once took more than 10 s to be scheduled.
@Suite("Group commit", .serialized, .timeLimit(.minutes(2)))
struct GroupCommitTests {
    typealias Storage = ReplicaPersistenceTests.RecordingStorage

    /// Holds the next transaction inside the store until `open`, and says when it is there.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        let entered = LockedBox(false)

        func close(_ storage: Storage) {
            storage.duringNextWrite.withLock { hook in
                hook = { [self] in
                    entered.withLock { $0 = true }
                    semaphore.wait()
                }
            }
        }

        func open() { semaphore.signal() }
    }

    /// A write that holds the store's next transaction until the gate opens.
    static func blockedWrite(_ keys: KeyService, _ storage: Storage) async throws -> (Gate, Task<KeyRecord, any Error>) {
        let gate = Gate()
        gate.close(storage)
        let blocked = Task { try await keys.create(KeyDraft(name: "blocking")).record }
        try await eventually("the first commit is under way", timeout: .seconds(60)) { gate.entered.withLock { $0 } }
        return (gate, blocked)
    }

    @Test func writesArrivingDuringACommitShareTheNextOne() async throws {
        let storage = Storage()
        let keys = try ReplicaPersistenceTests.service(storage)
        let (gate, blocked) = try await Self.blockedWrite(keys, storage)
        let queued = (0..<19).map { index in Task { try await keys.create(KeyDraft(name: "queued-\(index)", owner: "acct")) } }
        try await eventually("the other writes queue behind it", timeout: .seconds(60)) { keys.queuedAdminWrites == 19 }
        gate.open()
        _ = try await blocked.value
        for write in queued {
            let (record, secret) = try await write.value
            #expect(keys.verify(key: secret, VerifyRequest()).code == .valid)
            #expect(try storage.stored(record.id) != nil, "answered only once on disk")
        }
        #expect(storage.transactions.load(ordering: .relaxed) == 2)
        #expect(keys.adminCommits == (commits: 2, writes: 20))
        #expect(try keys.audit.query(AuditQuery(limit: 100)).count == 20)
    }

    @Test func writesQueuedBehindOthersReadWhatTheyWrote() async throws {
        let storage = Storage()
        let keys = try ReplicaPersistenceTests.service(storage)
        let (made, _) = try await keys.create(KeyDraft(name: "rotated", owner: "acct"))
        let (gate, blocked) = try await Self.blockedWrite(keys, storage)
        let rotations = (0..<5).map { _ in Task { try await keys.rotate(id: made.id, graceMs: 3_600_000) } }
        try await eventually("the rotations queue", timeout: .seconds(60)) { keys.queuedAdminWrites == 5 }
        gate.open()
        _ = try await blocked.value
        var newest: (record: KeyRecord, secret: String)?
        for rotation in rotations {
            let rotated = try await rotation.value
            if rotated.record.secretGeneration > newest?.record.secretGeneration ?? 0 { newest = rotated }
        }
        let last = try #require(newest)
        #expect(last.record.secretGeneration == 5, "each rotation builds on the one queued before it")
        #expect(keys.key(id: made.id)?.record.secretGeneration == 5)
        #expect(keys.verify(key: last.secret, VerifyRequest()).code == .valid)
        #expect(storage.transactions.load(ordering: .relaxed) == 3)
    }

    @Test func aFailedCommitFailsItsWritesAndAppliesNoneOfThem() async throws {
        let storage = Storage()
        let keys = try ReplicaPersistenceTests.service(storage)
        let (gate, blocked) = try await Self.blockedWrite(keys, storage)
        let queued = (0..<3).map { index in Task { try await keys.create(KeyDraft(name: "lost-\(index)")) } }
        try await eventually("the writes queue", timeout: .seconds(60)) { keys.queuedAdminWrites == 3 }
        storage.failing.store(true, ordering: .relaxed)
        gate.open()
        _ = try await blocked.value
        for write in queued {
            await #expect(throws: KeyServiceError.self) { try await write.value }
        }
        #expect(keys.keyCount == 1)
        #expect(keys.queuedAdminWrites == 0)
        storage.failing.store(false, ordering: .relaxed)
        let (after, secret) = try await keys.create(KeyDraft(name: "after"))
        #expect(keys.verify(key: secret, VerifyRequest()).code == .valid)
        #expect(try storage.stored(after.id) != nil)
    }
}
