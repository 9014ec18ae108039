import Dispatch
import GatehouseCore
import Logging
import Synchronization

/// Why a key operation failed in the node: a rule of the core, or the disk.
public enum KeyServiceError: Error, Sendable {
    case rejected(KeyError)
    /// Persisting failed; nothing was changed in memory.
    case storage(String)
}

/// The node's key state: the core `Gatekeeper` behind a lock for the hot path, and the
/// write path (validate → persist → apply) serialised behind another, so a verify never
/// waits for a disk write.
///
/// Records replicated from peers are applied in memory at once and written to disk in
/// batches afterwards (`persistPendingReplicas`), so a slow disk delays neither their
/// visibility nor the data stream that brought them. Losing unwritten replicas in a crash
/// loses nothing: their origin wrote them before it acknowledged, and anti-entropy brings
/// them back after a restart.
public final class KeyService: Sendable {
    private let state: LockedBox<Gatekeeper>
    private let hasher: LookupHasher
    /// Serialises computing admin writes (read-modify-write, versions in order) and holds the
    /// writes waiting for their group's commit (`WriteGroups`); imports and replica batches
    /// write to disk under it too.
    private let diskWriter = LockedBox(WriteGroups<CheckedContinuation<WriteTurn, Never>>())
    /// Commits of admin writes so far, and the writes they held (group commit's figures).
    private let commitCounts = LockedBox((commits: 0, writes: 0))
    private let clock: LockedBox<HybridClock>
    /// Ids of replicated records applied in memory and not yet on disk.
    private let pendingReplicas = LockedBox<Set<String>>([])
    private let replicaDoorbell: AsyncStream<Void>.Continuation
    /// Rings (coalesced) whenever replicated records wait to be written to disk.
    public let pendingReplicaSignals: AsyncStream<Void>
    private let storage: any KeyStorage
    private let now: @Sendable () -> Int64
    public let defaultLimits: [RateLimit]
    public let defaultPrefix: String
    private let logger: Logger
    /// How far ahead of this node's clock a replicated version may be (`ReplicaCheck`).
    let maxClockSkewMs: Int64
    /// Which imported forms of keys are held (bit 0 foreign, bit 1 SHA-256), read by the
    /// verify path before it takes the lock, to hash a presented key the ways that can find
    /// it; refreshed after every apply. A verify racing the first import of a form may miss
    /// that one key for that moment, as it would miss a key created a moment later.
    private let importedForms = Atomic<UInt8>(0)
    /// The audit trail every admin write adds an entry to, in the write's transaction.
    public let audit: AuditTrail
    /// Security events: refused verifies and tokens, refused replicated records.
    public let events: SecurityEventLog
    /// Told about every local write once it is durable, to replicate it.
    private let writeListener = LockedBox<WriteListener?>(nil)

    /// The listener inside a struct, never a bare function value behind the lock: `withLock`
    /// hands its value over `inout` through a generic, and a function value crossing that
    /// boundary comes back wrapped in two more reabstraction thunks on every access, so after
    /// some ten thousand writes calling it overflowed the stack.
    private struct WriteListener: Sendable {
        let notify: @Sendable ([KeyRecord]) -> Void
    }

    /// `listener` hears every local write once it is durable: one record per admin write, a
    /// batch per import call.
    public func onLocalWrites(_ listener: @escaping @Sendable ([KeyRecord]) -> Void) {
        writeListener.withLock { $0 = WriteListener(notify: listener) }
    }

    /// Completes once every local write told to the listener so far has been handed to the
    /// peers' streams (set by the replication runner; a standalone node has none).
    private let pushBarrier = LockedBox<PushBarrier?>(nil)

    /// In a struct for the reason `WriteListener` is: calls its argument once the writes
    /// told so far are pushed.
    private struct PushBarrier: Sendable {
        let whenPushed: @Sendable (@escaping @Sendable () -> Void) -> Void
    }

    public func onPushBarrier(_ barrier: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) {
        pushBarrier.withLock { $0 = PushBarrier(whenPushed: barrier) }
    }

    /// Waits until the local writes made so far are on their way to every connected peer, but
    /// never longer than `limit`: an admin answer then means "on disk here, and sent", and a
    /// busy data plane only costs the answer that bound, not more.
    public func waitForPush(limit: Duration = .milliseconds(5)) async {
        guard let barrier = pushBarrier.withLock({ $0 }) else { return }
        let resumed = LockedBox(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeOnce: @Sendable () -> Void = {
                let first = resumed.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume() }
            }
            barrier.whenPushed(resumeOnce)
            Task {
                try? await Task.sleep(for: limit)
                resumeOnce()
            }
        }
    }

    public init(
        nodeID: String, hasher: LookupHasher, settings: Gatekeeper.Settings, defaultLimits: [RateLimit],
        defaultPrefix: String, storage: any KeyStorage, maxClockSkewMs: Int64 = ClusterConfig.defaultMaxClockSkewMs,
        auditRetentionMs: Int64 = Int64(AuditTrail.defaultRetentionDays) * 86_400_000,
        now: @escaping @Sendable () -> Int64, logger: Logger, events: SecurityEventLog? = nil
    ) throws {
        self.events = events ?? SecurityEventLog(node: nodeID, logger: logger, now: now)
        audit = try AuditTrail(
            storage: storage, nodeID: nodeID, retentionMs: auditRetentionMs, maxClockSkewMs: maxClockSkewMs, now: now, logger: logger)
        var gatekeeper = Gatekeeper(hasher: hasher, settings: settings, node: nodeID)
        var clock = HybridClock(node: nodeID)
        let nowMs = now()
        let storedRows = try storage.recordCount()
        let lastLoadedRow = try storage.lastRow()
        gatekeeper.reserveCapacity(storedRows)
        try storage.forEachRecord { record in
            gatekeeper.apply(record)
            clock.observe(record.version, nowMs: nowMs)
        }
        if Self.worthCompacting(storedRows: storedRows, keys: gatekeeper.keyCount) {
            try Self.compact(storage, through: lastLoadedRow, gatekeeper: gatekeeper)
            logger.info(
                "stored records compacted", metadata: ["rows_before": "\(storedRows)", "keys": "\(gatekeeper.keyCount)"])
        }
        for (id, usage) in try storage.loadCreditUsage() {
            gatekeeper.restoreCreditUsage(id: id, usage)
        }
        importedForms.store(Self.formBits(gatekeeper.importedLookups), ordering: .relaxed)
        state = LockedBox(gatekeeper)
        self.hasher = hasher
        self.clock = LockedBox(clock)
        (pendingReplicaSignals, replicaDoorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.storage = storage
        self.now = now
        self.defaultLimits = defaultLimits
        self.defaultPrefix = defaultPrefix
        self.maxClockSkewMs = maxClockSkewMs
        self.logger = logger
    }

    public var keyCount: Int { state.withLock { $0.keyCount } }

    // MARK: Hot path

    public func verify(key: UnsafeRawBufferPointer, _ request: VerifyRequest) -> VerifyAnswer {
        verify(key: key, request, nowMs: now())
    }

    /// A verify at a time the caller read from `currentTimeMs()` (a connection reads the
    /// clock once for all the commands of one read). The key is checked and hashed before
    /// the lock is taken, so the lock is held only for the lookup and the counters.
    public func verify(key: UnsafeRawBufferPointer, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        let presented = PresentedKey(key, hasher: hasher, imported: importedLookupsNow)
        let (answer, wants) = state.withLock { gatekeeper in
            (gatekeeper.verify(presented, request, nowMs: nowMs), gatekeeper.hasEscrowWants)
        }
        if wants { ringEscrowDoorbell() }
        return answer
    }

    private var importedLookupsNow: ImportedLookups {
        let bits = importedForms.load(ordering: .relaxed)
        guard bits != 0 else { return ImportedLookups() }
        var imported = ImportedLookups()
        imported.foreign = Int(bits & 1)
        imported.sha256 = Int(bits >> 1 & 1)
        return imported
    }

    /// Whether the stored log holds enough superseded versions to rewrite it at start: more
    /// than one per key, and at least ten thousand (a rewrite costs about as much as a load).
    static func worthCompacting(storedRows: Int, keys: Int) -> Bool {
        let superseded = storedRows - keys
        return superseded >= 10_000 && superseded > keys
    }

    /// Rewrites the stored rows a start loaded as the records the index holds, a few
    /// thousand at a time.
    private static func compact(_ storage: any KeyStorage, through lastLoadedRow: Int64, gatekeeper: Gatekeeper) throws {
        var next = 0
        try storage.compact(through: lastLoadedRow) {
            guard next < gatekeeper.keyCount else { return nil }
            let range = next..<min(gatekeeper.keyCount, next + 4_096)
            next = range.upperBound
            return gatekeeper.records(inSlots: range)
        }
    }

    private static func formBits(_ imported: ImportedLookups) -> UInt8 {
        (imported.foreign > 0 ? 1 : 0) | (imported.sha256 > 0 ? 2 : 0)
    }

    /// After an apply: which imported forms the index holds now.
    private func refreshImportedForms() {
        importedForms.store(Self.formBits(state.withLock { $0.importedLookups }), ordering: .relaxed)
    }

    /// What a token check decided.
    public enum CredentialCheck: Sendable {
        case accepted
        case refused
        /// The source failed too often lately; the token was not even compared.
        case sourceThrottled
    }

    /// Checks a token (RESP `AUTH`, an HTTP bearer) presented from `source` under the
    /// failed-attempt throttle: a throttled source is refused before its token is compared,
    /// and a refused token counts as a failed attempt of its source. Without a source (a
    /// Unix socket) the token is only compared.
    public func checkCredential(from source: SourceIdentity?, _ accepts: () -> Bool) -> CredentialCheck {
        guard let source else { return accepts() ? .accepted : .refused }
        let nowMs = now()
        if state.withLock({ $0.isSourceThrottled(source, nowMs: nowMs) }) { return .sourceThrottled }
        if accepts() { return .accepted }
        state.withLock { $0.recordFailedAttempt(source, nowMs: nowMs) }
        return .refused
    }

    /// Whether the failed-attempt throttle refuses `source` now.
    public func isSourceThrottled(_ source: SourceIdentity) -> Bool {
        let nowMs = now()
        return state.withLock { $0.isSourceThrottled(source, nowMs: nowMs) }
    }

    /// The node's clock, in milliseconds since the epoch.
    public func currentTimeMs() -> Int64 { now() }

    public func verify(key: String, _ request: VerifyRequest) -> VerifyAnswer {
        var key = key
        return key.withUTF8 { verify(key: UnsafeRawBufferPointer($0), request) }
    }

    public func throttle(_ bucket: String, limit: Int64, windowMs: Int64, cost: Int64) -> ThrottleAnswer {
        let nowMs = now()
        return state.withLock { $0.throttle(bucket: bucket, limit: limit, windowMs: windowMs, cost: cost, nowMs: nowMs) }
    }

    // MARK: Reads

    /// A record and the credits it has left.
    public func key(id: String) -> (record: KeyRecord, creditsRemaining: Int64?)? {
        let nowMs = now()
        return state.withLock { gatekeeper in
            gatekeeper.record(id: id).map { ($0, gatekeeper.creditsRemaining(id: id, nowMs: nowMs)) }
        }
    }

    public func list(owner: String?, after cursor: String?, limit: Int) -> [(record: KeyRecord, creditsRemaining: Int64?)] {
        let nowMs = now()
        return state.withLock { gatekeeper in
            gatekeeper.list(owner: owner, after: cursor, limit: limit).map { ($0, gatekeeper.creditsRemaining(id: $0.id, nowMs: nowMs)) }
        }
    }

    // MARK: Writes

    /// The members a new key's credits and strict limits are split over: the live ones now.
    private var holdersNow: [String] { state.withLock { $0.liveMembers } }

    public func create(_ draft: KeyDraft, origin: AuditOrigin = .inProcess) async throws(KeyServiceError) -> (record: KeyRecord, secret: String) {
        try await write(.keyCreate, origin) { version, nowMs, random, _ throws(KeyError) in
            var created = try KeyLifecycle.create(
                draft, defaultLimits: defaultLimits, hasher: hasher, nowMs: nowMs, version: version, using: &random)
            created.record.holders = holdersNow
            return created
        }
    }

    /// A new quota (credits set) starts a new escrow, split over the members live now.
    public func update(id: String, _ changes: KeyChanges, origin: AuditOrigin = .inProcess) async throws(KeyServiceError) -> KeyRecord {
        try await write(.keyUpdate, origin) { version, nowMs, _, current throws(KeyError) in
            var updated = try KeyLifecycle.update(try current(id), with: changes, nowMs: nowMs, version: version)
            if case .set = changes.credits { updated.holders = holdersNow }
            return (updated, "")
        }.record
    }

    public func revoke(id: String, origin: AuditOrigin = .inProcess) async throws(KeyServiceError) -> KeyRecord {
        try await write(.keyRevoke, origin) { version, nowMs, _, current throws(KeyError) in
            (KeyLifecycle.revoke(try current(id), nowMs: nowMs, version: version), "")
        }.record
    }

    public func rotate(id: String, graceMs: Int64, origin: AuditOrigin = .inProcess) async throws(KeyServiceError) -> (record: KeyRecord, secret: String) {
        try await write(.keyRotate, origin) { version, nowMs, random, current throws(KeyError) in
            try KeyLifecycle.rotate(try current(id), graceMs: graceMs, hasher: hasher, nowMs: nowMs, version: version, using: &random)
        }
    }


    /// Runs one admin write: a version from the hybrid clock, the change (reading each key as
    /// the writes before it left it, committed or not), then durable storage with its audit
    /// entry, and only then the in-memory index. Writes are computed one at a time, so
    /// read-modify-write is safe, and committed in groups: while one group's transaction
    /// syncs the disk, the writes arriving queue, and the first of them commits them all
    /// together next (`WriteGroups`). A write returns once its group is durable and
    /// applied. A write that changes nothing is neither stored nor audited.
    private func write(
        _ action: AuditAction, _ origin: AuditOrigin,
        _ change: (HybridTimestamp, Int64, inout SystemRandomNumberGenerator, (String) throws(KeyError) -> KeyRecord) throws(KeyError) -> (
            record: KeyRecord, secret: String
        )
    ) async throws(KeyServiceError) -> (record: KeyRecord, secret: String) {
        let queued: Result<(outcome: (record: KeyRecord, secret: String), ticket: Int?, leads: Bool), KeyServiceError> = diskWriter.withLock { groups in
            let nowMs = now()
            let version = clock.withLock { $0.tick(nowMs: nowMs) }
            var random = SystemRandomNumberGenerator()
            let outcome: (record: KeyRecord, secret: String)
            do throws(KeyError) {
                outcome = try change(version, nowMs, &random) { id throws(KeyError) in
                    guard let record = groups.pendingRecord(id: id) ?? state.withLock({ $0.record(id: id) }) else {
                        throw KeyError(.notFound, "no key with id \(APIKeyFormat.redacted(id)); list keys with GET /v1/keys")
                    }
                    return record
                }
            } catch {
                return .failure(.rejected(error))
            }
            let before = groups.pendingRecord(id: outcome.record.id) ?? state.withLock { $0.record(id: outcome.record.id) }
            if before == outcome.record { return .success((outcome, nil, false)) }
            let entry = audit.entry(
                action, keyID: outcome.record.id, changes: AuditChanges.between(before, outcome.record), origin: origin, atMs: nowMs)
            let (ticket, leads) = groups.enqueue(outcome.record, audit: entry)
            return .success((outcome, ticket, leads))
        }
        let (outcome, ticket, leads) = try queued.get()
        guard let ticket else { return outcome }
        if leads { await commitOffThePool() }
        while true {
            switch await turn(of: ticket) {
            case .lead:
                await commitOffThePool()
            case .committed:
                return outcome
            case .failed:
                throw .storage("the key store could not be written; retry, and check the node's disk")
            }
        }
    }

    /// Waits until the write `ticket` is committed (or failed), or must lead the next group.
    private func turn(of ticket: Int) async -> WriteTurn {
        await withCheckedContinuation { (continuation: CheckedContinuation<WriteTurn, Never>) in
            if let decided = diskWriter.withLock({ $0.turn(of: ticket, orWait: continuation) }) {
                continuation.resume(returning: decided)
            }
        }
    }

    /// Commits run here, not on the caller's thread: a commit waits for the disk to sync, and
    /// the cooperative pool has one thread per core (two on a small machine), which verifies and
    /// every other request need.
    private let commitQueue = DispatchQueue(label: "gatehouse.admin-commits")

    private func commitOffThePool() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            commitQueue.async {
                self.commitQueuedWrites()
                continuation.resume()
            }
        }
    }

    /// Commits every queued admin write in one transaction, applies them, tells the
    /// replication listener, and wakes their writers (and the next group's leader).
    private func commitQueuedWrites() {
        let group = diskWriter.withLock { $0.takeGroup() }
        var committed = true
        if !group.isEmpty {
            let records = group.map(\.record)
            do {
                try storage.save(records, audit: group.map(\.audit))
                for record in records where !state.withLock({ $0.apply(record) }) {
                    // A newer version arrived from a peer meanwhile: the disk must end with it.
                    markReplicasPending([record.id])
                }
                refreshImportedForms()
                audit.written(group.map(\.audit))
                commitCounts.withLock { $0.commits += 1; $0.writes += group.count }
                writeListener.withLock { $0 }?.notify(records)
            } catch {
                logger.error("key write failed", metadata: ["keys": "\(group.count)", "error": "\(error)"])
                committed = false
            }
        }
        let resumed = diskWriter.withLock { $0.finish(group, committed: committed) }
        for (waiter, turn) in resumed { waiter.resume(returning: turn) }
    }

    /// Admin writes waiting for the commit under way to end.
    var queuedAdminWrites: Int { diskWriter.withLock { $0.queuedCount } }

    /// Durable commits of admin writes since start, and how many writes they held.
    public var adminCommits: (commits: Int, writes: Int) { commitCounts.withLock { $0 } }

    /// Most entries one `importKeys` call takes: one transaction, one replication batch.
    public static let maxImportBatch = 10_000

    /// Bulk import: each entry becomes a key (`KeyLifecycle.importKey`) or is refused on its
    /// own (a field out of bounds, a secret already held here or earlier in the batch); the
    /// accepted ones are written in one transaction, then applied and replicated together.
    /// All or nothing per entry: if the disk write fails, every accepted entry is refused
    /// with the storage error and nothing is applied. At most `maxImportBatch` entries.
    /// The audit trail gets one entry per `AuditRules.maxKeysPerEntry` imported keys, in the
    /// same transaction.
    public func importKeys(_ entries: [KeyImportEntry], origin: AuditOrigin = .inProcess) -> [KeyImportOutcome] {
        precondition(entries.count <= Self.maxImportBatch, "import batches are at most \(Self.maxImportBatch) entries")
        // Checking, hashing and generating secrets on every core, before the writer's lock;
        // each record takes its version in order under the lock.
        let nowMs = now()
        let (defaultLimits, hasher, placeholder) = (defaultLimits, hasher, HybridTimestamp(wallMs: nowMs, logical: 0, node: ""))
        let prepared = ParallelMap.map(entries) { entry -> Result<(record: KeyRecord, secret: String?), KeyError> in
            var random = BatchedSystemRandom()
            return Result { () throws(KeyError) in
                try KeyLifecycle.importKey(
                    entry.draft, secret: entry.secret, defaultLimits: defaultLimits, hasher: hasher, nowMs: nowMs, version: placeholder,
                    using: &random)
            }
        }
        let (outcomes, records): ([KeyImportOutcome], [KeyRecord]) = diskWriter.withLock { _ in
            let holders = holdersNow
            var outcomes: [KeyImportOutcome] = []
            outcomes.reserveCapacity(entries.count)
            var records: [KeyRecord] = []
            records.reserveCapacity(entries.count)
            var seen = Set<LookupHash>(minimumCapacity: entries.count)
            for (entry, made) in zip(entries, prepared) {
                do throws(KeyError) {
                    let (unstamped, secret) = try made.get()
                    var record = KeyLifecycle.stamped(unstamped, version: clock.withLock { $0.tick(nowMs: nowMs) })
                    guard seen.insert(record.lookup).inserted else {
                        throw KeyError(.conflict, field: entry.secret.field, "the same secret appears earlier in this import; import each key once")
                    }
                    record.holders = holders
                    outcomes.append(.imported(record, secret: secret))
                    records.append(record)
                } catch {
                    outcomes.append(.refused(.rejected(error)))
                }
            }
            // Which secrets are held already, `lockBatch` lookups per acquisition of the verify
            // path's lock: an import of ten thousand keys never stalls a verify for long.
            var held: [String?] = []
            held.reserveCapacity(records.count)
            var checked = 0
            while checked < records.count {
                let end = min(records.count, checked + Self.lockBatch)
                held += state.withLock { gatekeeper in records[checked..<end].map { gatekeeper.keyID(ofLookup: $0.lookup) } }
                checked = end
            }
            var fresh: [KeyRecord] = []
            fresh.reserveCapacity(records.count)
            var recordIndex = 0
            for position in outcomes.indices {
                guard case .imported(let record, _) = outcomes[position] else { continue }
                defer { recordIndex += 1 }
                if let existing = held[recordIndex] {
                    let field = entries[position].secret.field
                    outcomes[position] = .refused(.rejected(KeyError(
                        .conflict, field: field, "a key with this secret is held already (\(existing)); import each key once")))
                } else {
                    fresh.append(record)
                }
            }
            guard !fresh.isEmpty else { return (outcomes, []) }
            let auditEntries = audit.importEntries(keyIDs: fresh.map(\.id), origin: origin, atMs: nowMs)
            do {
                try storage.save(fresh, audit: auditEntries)
            } catch {
                logger.error("key import failed", metadata: ["keys": "\(fresh.count)", "error": "\(error)"])
                let refusal = KeyServiceError.storage("the key store could not be written; nothing of this batch was imported; retry, and check the node's disk")
                for position in outcomes.indices {
                    if case .imported = outcomes[position] { outcomes[position] = .refused(refusal) }
                }
                return (outcomes, [])
            }
            var start = 0
            while start < fresh.count {
                let end = min(fresh.count, start + Self.lockBatch)
                state.withLock { gatekeeper in
                    for record in fresh[start..<end] { gatekeeper.apply(record) }
                }
                start = end
            }
            refreshImportedForms()
            audit.written(auditEntries)
            return (outcomes, fresh)
        }
        if !records.isEmpty { writeListener.withLock { $0 }?.notify(records) }
        return outcomes
    }

    // MARK: Replication

    /// Records written elsewhere: each is kept if it is newer than ours (last writer wins)
    /// and visible to verifies when this returns; the disk gets them later, in a batch
    /// (`persistPendingReplicas`). The verify path's lock is taken once per record, so a
    /// large batch never holds it for long. Returns how many changed anything.
    ///
    /// Each record is checked first (`ReplicaCheck`), as strictly as an admin write and for a
    /// version no further ahead of this node's clock than `maxClockSkewMs`; a refused record
    /// is counted and logged (its id and writer, never a secret), and the hybrid clock never
    /// observes it.
    @discardableResult
    public func applyReplicated(_ records: [KeyRecord]) -> ReplicaApplyOutcome {
        let nowMs = now()
        var outcome = ReplicaApplyOutcome()
        var accepted: [KeyRecord] = []
        accepted.reserveCapacity(records.count)
        var firstRefused: (record: KeyRecord, reason: ReplicaCheck.Rejection)?
        for record in records {
            if let rejection = ReplicaCheck.rejection(of: record, nowMs: nowMs, maxClockSkewMs: maxClockSkewMs) {
                outcome.rejected[rejection, default: 0] += 1
                if firstRefused == nil { firstRefused = (record, rejection) }
                continue
            }
            accepted.append(record)
        }
        // One line per batch, not per record: a peer repeating bad records every round must
        // not flood the log (the metric counts each one).
        if let (record, rejection) = firstRefused {
            logger.warning("replicated records refused", metadata: [
                "refused": "\(records.count - accepted.count)", "first_key_id": "\(record.id.prefix(ReplicaCheck.maxIDBytes))",
                "first_reason": "\(rejection.rawValue)",
                "first_version": "\(record.version.wallMs).\(record.version.logical)@\(record.version.node.prefix(ReplicaCheck.maxNodeNameBytes))",
                "first_ahead_ms": "\(record.version.wallMs &- nowMs)",
            ])
        }
        if let skewed = outcome.rejected[.clockSkew], skewed > 0,
            let first = records.first(where: { ReplicaCheck.rejection(of: $0, nowMs: nowMs, maxClockSkewMs: maxClockSkewMs) == .clockSkew })
        {
            events.clockSkewRejected(
                member: String(first.version.node.prefix(ReplicaCheck.maxNodeNameBytes)), firstKeyID: String(first.id.prefix(ReplicaCheck.maxIDBytes)),
                count: Int64(skewed), aheadMs: first.version.wallMs &- nowMs)
        }
        clock.withLock { clock in
            for record in accepted { clock.observe(record.version, nowMs: nowMs) }
        }
        let applied = inLockBatches(accepted) { gatekeeper, batch in batch.filter { gatekeeper.apply($0) } }
        if !applied.isEmpty { refreshImportedForms() }
        markReplicasPending(applied.map(\.id))
        outcome.applied = applied.count
        return outcome
    }

    /// How many replicated records wait to be written to disk.
    public var pendingReplicaCount: Int { pendingReplicas.withLock { $0.count } }

    /// Writes every replicated record still waiting, in one transaction, as memory holds it
    /// now (never older than what a local write put on disk before: both run under
    /// `diskWriter`, and memory only moves forward). On failure they stay pending.
    @discardableResult
    public func persistPendingReplicas() throws -> Int {
        try diskWriter.withLock { _ in
            let ids = pendingReplicas.withLock { pending in
                defer { pending.removeAll() }
                return pending
            }
            guard !ids.isEmpty else { return 0 }
            let records = inLockBatches(Array(ids)) { gatekeeper, batch in batch.compactMap { gatekeeper.record(id: $0) } }
            do {
                try storage.save(records)
            } catch {
                pendingReplicas.withLock { $0.formUnion(ids) }
                throw error
            }
            return records.count
        }
    }

    private func markReplicasPending(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        pendingReplicas.withLock { $0.formUnion(ids) }
        replicaDoorbell.yield()
    }

    public func digest() -> ReplicaDigest { state.withLock { $0.digest } }

    /// Shared counter windows held: every limit of every key, and every THROTTLE bucket.
    public var counterWindowCount: Int {
        state.withLock { $0.limitWindowCount + $0.throttleBuckets.count }
    }

    public func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { state.withLock { $0.entries(inBuckets: buckets) } }

    public func records(ids: [String]) -> [KeyRecord] { state.withLock { $0.records(ids: ids) } }

    // MARK: Escrow (credits and limit shares)

    /// Told (at most once until it takes them) that the verify path asked for more of some
    /// share or credits, so the replication runner sends the requests at once, not at the
    /// next counter tick.
    private let escrowDoorbell = LockedBox<EscrowDoorbell?>(nil)
    private let escrowRinging = LockedBox(false)

    /// In a struct for the reason `WriteListener` is.
    private struct EscrowDoorbell: Sendable {
        let ring: @Sendable () -> Void
    }

    public func onEscrowWants(_ ring: @escaping @Sendable () -> Void) {
        escrowDoorbell.withLock { $0 = EscrowDoorbell(ring: ring) }
    }

    private func ringEscrowDoorbell() {
        let first = escrowRinging.withLock { ringing in
            defer { ringing = true }
            return !ringing
        }
        if first { escrowDoorbell.withLock { $0 }?.ring() }
    }

    /// The requests for more made since the last call (and the doorbell rings again).
    public func takeEscrowWants() -> [EscrowWant] {
        escrowRinging.withLock { $0 = false }
        return state.withLock { $0.takeEscrowWants() }
    }

    /// Answers `peer`'s requests: hands over what this node can spare of each ledger, one
    /// lock acquisition per request. Returns this node's changed rows.
    public func handOver(_ wants: [EscrowWant], to peer: String) -> [EscrowRow] {
        let nowMs = now()
        return wants.compactMap { want in state.withLock { $0.handOver(want, to: peer, nowMs: nowMs) } }
    }

    /// Rows a peer wrote (`node`, the stream's member) or this node's own given back after a
    /// restart. Rows with values out of bounds are refused whole; returns how many.
    @discardableResult
    public func mergeEscrowRows(_ rows: [EscrowRow], of node: String) -> Int {
        let nowMs = now()
        let bounded = rows.filter { ReplicaCheck.accepts($0) }
        var refused = rows.count - bounded.count
        var start = 0
        while start < bounded.count {
            let end = min(bounded.count, start + Self.lockBatch)
            refused += state.withLock { $0.mergeEscrowRows(Array(bounded[start..<end]), of: node, nowMs: nowMs) }
            start = end
        }
        return refused
    }

    /// This node's own rows, given back by a peer after a restart.
    @discardableResult
    public func restoreOwnEscrowRows(_ rows: [EscrowRow]) -> Int {
        mergeEscrowRows(rows, of: state.withLock { $0.node })
    }

    /// This node's credit rows that changed (credits spent) since the last call.
    public func takeChangedCreditRows() -> [EscrowRow] { state.withLock { $0.takeChangedCreditRows() } }

    /// The escrow rows held of `node` (this node's own included), a few records per lock.
    public func escrowRows(of node: String) -> [EscrowRow] {
        overRecordsInBatches { gatekeeper, records in gatekeeper.escrowRows(of: node, inRecords: records) }
    }

    /// What `read` finds in every record, read `lockBatch` records per acquisition of the
    /// verify path's lock, so a walk over ten thousand keys never stalls a verify for long.
    private func overRecordsInBatches<Element: Sendable>(_ read: (Gatekeeper, Range<Int>) -> [Element]) -> [Element] {
        let recordCount = state.withLock { $0.keyCount }
        var found: [Element] = []
        var start = 0
        while start < recordCount {
            let end = min(recordCount, start + Self.lockBatch)
            found += state.withLock { read($0, start..<end) }
            start = end
        }
        return found
    }

    /// `body` over `items`, `lockBatch` items per acquisition of the verify path's lock: a
    /// lock per item costs more than the work on a replicated import, one for all of ten
    /// thousand would stall a verify.
    private func inLockBatches<Item, Result: Sendable>(_ items: [Item], _ body: (inout Gatekeeper, ArraySlice<Item>) -> [Result]) -> [Result] {
        var results: [Result] = []
        results.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            let end = min(items.count, start + Self.lockBatch)
            results += state.withLock { body(&$0, items[start..<end]) }
            start = end
        }
        return results
    }

    public func ownEscrowRows() -> [EscrowRow] { escrowRows(of: state.withLock { $0.node }) }

    // MARK: Shared counters

    /// Peer node ids → their slot ordinal in this node's counters (0 is this node).
    private let ordinals = LockedBox<[String: NodeOrdinal]>([:])

    private func ordinal(of node: String) -> NodeOrdinal {
        ordinals.withLock { table in
            if let known = table[node] { return known }
            let next = NodeOrdinal(clamping: table.count + 1)
            table[node] = next
            return next
        }
    }

    /// The members the membership reports live (this node is added): they share the
    /// counters, and default-mode limits split their shares over them.
    public func setLiveMembers(_ members: [String]) {
        state.withLock { $0.setLiveMembers(members) }
    }

    /// Records or slots handled per acquisition of the verify path's lock by the counter
    /// exchange, so a sync of thousands of keys never stalls a verify for long.
    static let lockBatch = 32

    /// Every own counter slot changed since the last call, due or not (a last push at shutdown).
    public func takeCounterChanges() -> [CounterSlot] { state.withLock { $0.takeCounterChanges() } }

    /// This node's own counter slots whose unsent counts are due under `rule`, weighed a few
    /// records per lock acquisition.
    public func takeDueCounterChanges(rule: CounterSendRule) -> [CounterSlot] {
        let nowMs = now()
        let dirty = state.withLock { $0.takeDirtyCounterRecords(nowMs: nowMs) }
        var changes: [CounterSlot] = []
        var start = 0
        while start < dirty.count {
            let end = min(dirty.count, start + Self.lockBatch)
            changes += state.withLock { $0.takeCounterChanges(ofRecords: dirty[start..<end], nowMs: nowMs, rule: rule) }
            start = end
        }
        return changes + state.withLock { $0.takeThrottleChanges() }
    }

    /// Slots of `node`'s own counts (sent by it, or relayed), merged a few per lock
    /// acquisition; slots `ReplicaCheck` refuses (a count out of bounds, a window far from
    /// now) are left out and counted in `rejected`. Returns the slots that brought news.
    @discardableResult
    public func mergeCounters(_ slots: [CounterSlot], from node: String) -> (news: [CounterSlot], rejected: Int) {
        let nowMs = now()
        let accepted = slots.filter { ReplicaCheck.accepts($0, nowMs: nowMs) }
        let ordinal = ordinal(of: node)
        var news: [CounterSlot] = []
        var start = 0
        while start < accepted.count {
            let end = min(accepted.count, start + Self.lockBatch)
            news += state.withLock { $0.mergeCounters(Array(accepted[start..<end]), from: ordinal, nowMs: nowMs) }
            start = end
        }
        return (news, slots.count - accepted.count)
    }

    /// This node's own slots, recovered from a peer's copy after a restart
    /// (`Gatekeeper.restoreOwnCounters`: added to the counts made since the start). Returns
    /// how many `ReplicaCheck` refused.
    @discardableResult
    public func restoreOwnCounters(_ slots: [CounterSlot]) -> Int {
        let nowMs = now()
        let accepted = slots.filter { ReplicaCheck.accepts($0, nowMs: nowMs) }
        _ = inLockBatches(accepted) { gatekeeper, batch in gatekeeper.restoreOwnCounters(Array(batch), nowMs: nowMs) }
        return slots.count - accepted.count
    }

    /// This node starts in a cluster: strict limits and credits wait for the peers' copies of
    /// its own state, `forMs` at most (`Gatekeeper.beginOwnStateRecovery`).
    public func beginOwnStateRecovery(forMs: Int64) {
        let untilMs = now() + forMs
        state.withLock { $0.beginOwnStateRecovery(untilMs: untilMs) }
    }

    /// Whether strict limits and credits still wait for the peers' copies.
    public var isRecoveringOwnState: Bool {
        let nowMs = now()
        return state.withLock { $0.isRecoveringOwnState(nowMs: nowMs) }
    }

    /// The recovery of this node's own counts is over (`Gatekeeper.endCounterRecovery`).
    public func endCounterRecovery() {
        state.withLock { $0.endCounterRecovery() }
    }

    /// The slots held for a peer, to give a restarted peer its counts back.
    public func counterSlots(of node: String) -> [CounterSlot] {
        guard let known = ordinals.withLock({ $0[node] }) else { return [] }
        return counterSlots(ofOrdinal: known)
    }

    /// This node's own counts, to give a peer whose stream (re)connected.
    public func ownCounterSlots() -> [CounterSlot] { counterSlots(ofOrdinal: 0) }

    private func counterSlots(ofOrdinal ordinal: NodeOrdinal) -> [CounterSlot] {
        overRecordsInBatches { gatekeeper, records in gatekeeper.counterSlots(of: ordinal, inRecords: records) }
            + state.withLock { $0.throttleSlots(of: ordinal) }
    }

    // MARK: Housekeeping

    /// Persists usage coalesced since the last call and drops ended throttle windows.
    public func flushUsage() throws {
        let nowMs = now()
        state.withLock { $0.sweep(nowMs: nowMs) }
        let slots = state.withLock { $0.takeUsageChangedSlots() }.sorted()
        var changes: [(record: KeyRecord, creditUsage: Gatekeeper.CreditUsage?)] = []
        changes.reserveCapacity(slots.count)
        var start = 0
        while start < slots.count {
            let end = min(slots.count, start + Self.lockBatch)
            changes += state.withLock { $0.usage(ofSlots: slots[start..<end]) }
            start = end
        }
        try storage.saveUsage(changes)
    }

    /// How many live THROTTLE buckets were forgotten to make room for new ones.
    public var throttleEvictions: Int { state.withLock { $0.throttleBuckets.evictions } }
    /// Sources the failed-attempt throttle tracks, and how many it forgot to make room.
    public var failedAttemptSources: (tracked: Int, evicted: Int) { state.withLock { $0.failedAttemptSources } }
    public var failedAttemptWindowMs: Int64 { state.withLock { $0.settings.failedAttemptWindowMs } }
    public var throttleBucketCount: Int { state.withLock { $0.throttleBuckets.count } }
}

/// What `KeyService.applyReplicated` did with a batch of records from a peer.
public struct ReplicaApplyOutcome: Sendable, Equatable {
    /// Records that took precedence over what was held, and were applied.
    public var applied = 0
    /// Records refused by `ReplicaCheck`, by reason.
    public var rejected: [ReplicaCheck.Rejection: Int] = [:]

    public init() {}
}

/// One key of a bulk import: its fields, and what its secret is.
public struct KeyImportEntry: Sendable {
    public var draft: KeyDraft
    public var secret: ImportedSecret

    public init(draft: KeyDraft, secret: ImportedSecret) {
        self.draft = draft
        self.secret = secret
    }
}

/// What became of one entry of a bulk import.
public enum KeyImportOutcome: Sendable {
    /// Written; `secret` is the generated one (shown once), `nil` for a key the caller brought.
    case imported(KeyRecord, secret: String?)
    case refused(KeyServiceError)
}

extension ImportedSecret {
    /// The import field that carried the secret, to name in a refusal.
    var field: String? {
        switch self {
        case .generated: nil
        case .key: "key"
        case .sha256: "sha256"
        }
    }
}
