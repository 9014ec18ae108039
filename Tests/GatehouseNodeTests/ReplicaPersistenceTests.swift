import GatehouseCore
@testable import GatehouseNode
import Logging
import Synchronization
import Testing

/// Replicated records are visible at once and reach the disk later, in batches, without
/// ever leaving an older version on disk than memory holds.
@Suite("Replicated records: applied at once, persisted in batches", .timeLimit(.minutes(5)))
struct ReplicaPersistenceTests {
    static let hasher = LookupHasher(pepper: Array(repeating: 3, count: 32))
    static let t0: Int64 = 1_800_000_000_000

    /// A store that counts its writes and can be told to fail them.
    final class RecordingStorage: KeyStorage {
        let inner = InMemoryKeyStorage()
        let failing = Atomic<Bool>(false)
        let transactions = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        /// Runs inside the next write, before it stores anything: how a test lands a
        /// replica in the middle of a local write.
        let duringNextWrite = Mutex<(@Sendable () -> Void)?>(nil)

        struct DiskFull: Error {}

        func loadRecords() throws -> [KeyRecord] { try inner.loadRecords() }
        func loadCreditUsage() throws -> [String: Gatekeeper.CreditUsage] { try inner.loadCreditUsage() }
        func save(_ record: KeyRecord) throws { try save([record]) }
        func save(_ records: [KeyRecord]) throws {
            if failing.load(ordering: .relaxed) {
                failures.add(1, ordering: .relaxed)
                throw DiskFull()
            }
            duringNextWrite.withLock { hook in
                defer { hook = nil }
                return hook
            }?()
            transactions.add(1, ordering: .relaxed)
            for record in records { try inner.save(record) }
        }
        func saveUsage(_ changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)]) throws {
            try inner.saveUsage(changes)
        }
        func stored(_ id: String) throws -> KeyRecord? { try inner.loadRecords().first { $0.id == id } }
        func save(_ records: [KeyRecord], audit: [AuditEntry]) throws {
            try save(records)
            _ = try inner.insertAudit(audit)
        }
        func insertAudit(_ entries: [AuditEntry]) throws -> [AuditEntry] { try inner.insertAudit(entries) }
        func queryAudit(_ query: AuditQuery) throws -> [AuditEntry] { try inner.queryAudit(query) }
        func auditEntries(inHour hour: Int64, offset: Int, limit: Int) throws -> [AuditEntry] {
            try inner.auditEntries(inHour: hour, offset: offset, limit: limit)
        }
        func loadAuditDigest() throws -> AuditDigest { try inner.loadAuditDigest() }
        func pruneAudit(before cutoffMs: Int64) throws -> Int { try inner.pruneAudit(before: cutoffMs) }
    }

    static func service(_ storage: RecordingStorage, node: String = "n1") throws -> KeyService {
        try KeyService(
            nodeID: node, hasher: hasher, settings: .init(), defaultLimits: [.defaultHourly], defaultPrefix: "gk",
            storage: storage, now: { t0 }, logger: Logger(label: "test"))
    }

    /// A record as another node would write it, with its secret.
    static func remote(_ name: String, wallMs: Int64) throws -> (record: KeyRecord, secret: String) {
        var random = SystemRandomNumberGenerator()
        return try KeyLifecycle.create(
            KeyDraft(name: name, owner: "acct", scopes: ["read"]), defaultLimits: [.defaultHourly], hasher: hasher,
            nowMs: t0, version: HybridTimestamp(wallMs: wallMs, logical: 0, node: "n2"), using: &random)
    }

    /// A key created here, and a version of it written later on n2.
    static func localKeyAndANewerReplica() async throws -> (RecordingStorage, KeyService, created: KeyRecord, newer: KeyRecord) {
        let storage = RecordingStorage()
        let keys = try service(storage)
        let (created, _) = try await keys.create(KeyDraft(name: "local", owner: "acct", scopes: ["read"]))
        var newer = created
        newer.version = HybridTimestamp(wallMs: t0 + 1_000, logical: 0, node: "n2")
        newer.name = "from n2"
        return (storage, keys, created, newer)
    }

    @Test func aReplicatedRecordVerifiesBeforeItIsOnDiskAndOneTransactionWritesABatch() async throws {
        let storage = RecordingStorage()
        let keys = try Self.service(storage)
        let batch = try (0..<5).map { try Self.remote("k\($0)", wallMs: Self.t0 + Int64($0)) }

        #expect(keys.applyReplicated(batch.map(\.record)).applied == 5)
        #expect(keys.verify(key: batch[0].secret, VerifyRequest()).code == .valid)
        #expect(try storage.stored(batch[0].record.id) == nil)
        #expect(keys.pendingReplicaCount == 5)

        #expect(try keys.persistPendingReplicas() == 5)
        #expect(storage.transactions.load(ordering: .relaxed) == 1)
        #expect(keys.pendingReplicaCount == 0)
        for (record, _) in batch { #expect(try storage.stored(record.id)?.version == record.version) }
    }

    /// A record from a clock an hour ahead, and one whose limit would trap every verify: both
    /// refused and counted by reason, neither held, and the hybrid clock adopts neither.
    @Test func recordsTheChecksRefuseAreCountedAndNeverHeldNorObserved() async throws {
        let storage = RecordingStorage()
        let keys = try Self.service(storage)
        var ahead = try Self.remote("ahead", wallMs: Self.t0 + 3_600_000).record
        ahead.version = HybridTimestamp(wallMs: Self.t0 + 3_600_000, logical: 0, node: "n2")
        var trapping = try Self.remote("trapping", wallMs: Self.t0).record
        trapping.limits = [RateLimit(name: "w", limit: 10, windowMs: 0)]
        let fine = try Self.remote("fine", wallMs: Self.t0 + 1).record

        let outcome = keys.applyReplicated([ahead, trapping, fine])
        #expect(outcome.applied == 1)
        #expect(outcome.rejected == [.clockSkew: 1, .invalidRecord: 1])
        #expect(keys.key(id: ahead.id) == nil)
        #expect(keys.key(id: trapping.id) == nil)
        let (local, _) = try await keys.create(KeyDraft(name: "local"))
        #expect(local.version.wallMs < Self.t0 + 1_000, "the clock adopted a refused version: \(local.version)")
    }

    @Test func anOlderOrRepeatedRecordChangesNothingAndWaitsForNoWrite() async throws {
        let storage = RecordingStorage()
        let keys = try Self.service(storage)
        let (record, _) = try Self.remote("k", wallMs: Self.t0 + 10)
        var older = record
        older.version = HybridTimestamp(wallMs: Self.t0 + 5, logical: 0, node: "n2")
        older.name = "older"

        #expect(keys.applyReplicated([record]).applied == 1)
        #expect(try keys.persistPendingReplicas() == 1)
        #expect(keys.applyReplicated([record, older]).applied == 0)
        #expect(keys.pendingReplicaCount == 0)
        #expect(keys.key(id: record.id)?.record.name == "k")
    }

    @Test func aFailedWriteKeepsTheRecordsPendingForTheNextTry() async throws {
        let storage = RecordingStorage()
        let keys = try Self.service(storage)
        let (record, _) = try Self.remote("k", wallMs: Self.t0 + 1)
        keys.applyReplicated([record])

        storage.failing.store(true, ordering: .relaxed)
        #expect(throws: RecordingStorage.DiskFull.self) { try keys.persistPendingReplicas() }
        #expect(keys.pendingReplicaCount == 1)

        storage.failing.store(false, ordering: .relaxed)
        #expect(try keys.persistPendingReplicas() == 1)
        #expect(try storage.stored(record.id) != nil)
    }

    /// A replica newer than a local edit can land while the edit is being stored: memory
    /// keeps the replica, and the disk must end with it too, not with the edit.
    @Test func aReplicaThatWinsDuringALocalWriteEndsOnDiskAfterIt() async throws {
        let (storage, keys, created, replica) = try await Self.localKeyAndANewerReplica()
        storage.duringNextWrite.withLock { $0 = { keys.applyReplicated([replica]) } }

        _ = try await keys.update(id: created.id, KeyChanges(name: "edited here"))
        #expect(try storage.stored(created.id)?.name == "edited here")
        #expect(keys.key(id: created.id)?.record.name == "from n2")

        try keys.persistPendingReplicas()
        #expect(try storage.stored(created.id)?.name == "from n2")
    }

    @Test func aLocalEditAfterAReplicaIsNewerThanIt() async throws {
        let (storage, keys, created, newer) = try await Self.localKeyAndANewerReplica()
        keys.applyReplicated([newer])
        let updated = try await keys.update(id: created.id, KeyChanges(name: "edited here"))
        #expect(updated.version > newer.version)
        try keys.persistPendingReplicas()
        #expect(try storage.stored(created.id)?.name == "edited here")
        #expect(keys.key(id: created.id)?.record.name == "edited here")
    }

    @Test func theServiceWritesWhatWaitsWhenRungAndRetriesAFailedBatch() async throws {
        let storage = RecordingStorage()
        let keys = try Self.service(storage)
        let persistence = ReplicaPersistence(
            service: keys, metrics: ReplicationMetrics(registry: .init()), logger: Logger(label: "test"), retryDelayMs: 10)
        let running = Task { try await persistence.run() }
        defer { running.cancel() }

        let (first, _) = try Self.remote("first", wallMs: Self.t0 + 1)
        keys.applyReplicated([first])
        // Generous deadlines: the service is a task on a cooperative pool that the suite's
        // CPU-bound tests keep busy for a minute at its start on two cores (a CI run saw it).
        try await eventually("the first replica is on disk", timeout: .seconds(120)) { try storage.stored(first.id) != nil }

        storage.failing.store(true, ordering: .relaxed)
        let (second, _) = try Self.remote("second", wallMs: Self.t0 + 2)
        keys.applyReplicated([second])
        try await eventually("a write was tried and failed", timeout: .seconds(120)) { storage.failures.load(ordering: .relaxed) >= 1 }
        #expect(keys.pendingReplicaCount == 1)
        storage.failing.store(false, ordering: .relaxed)
        try await eventually("the failed batch is retried without a new ring", timeout: .seconds(120)) { try storage.stored(second.id) != nil }
    }
}
