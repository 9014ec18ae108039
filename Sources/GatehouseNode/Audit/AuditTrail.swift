import GatehouseCore
import Logging

/// The node's audit trail: entries of local admin writes (written to disk together with the
/// write, by `KeyService`), entries from peers (validated, kept by union), searches, the
/// per-hour digest anti-entropy compares, and pruning past the retention.
///
/// The digest is kept in memory beside the store and changed only after the store changed,
/// by exactly the entries the store added, so both always agree.
public final class AuditTrail: Sendable {
    private let storage: any AuditStorage
    private let digest: LockedBox<AuditDigest>
    public let nodeID: String
    public let retentionMs: Int64
    let maxClockSkewMs: Int64
    private let now: @Sendable () -> Int64
    private let logger: Logger
    private let listener = LockedBox<Listener?>(nil)

    /// In a struct for the reason `KeyService.WriteListener` is.
    private struct Listener: Sendable {
        let notify: @Sendable ([AuditEntry]) -> Void
    }

    public static let defaultRetentionDays = 90
    public static let maxRetentionDays = 730

    public init(
        storage: any AuditStorage, nodeID: String, retentionMs: Int64, maxClockSkewMs: Int64, now: @escaping @Sendable () -> Int64,
        logger: Logger
    ) throws {
        self.storage = storage
        self.nodeID = nodeID
        self.retentionMs = retentionMs
        self.maxClockSkewMs = maxClockSkewMs
        self.now = now
        self.logger = logger
        digest = LockedBox(try storage.loadAuditDigest())
        prune()
    }

    /// `listener` hears every local entry once it is durable, to replicate it.
    public func onLocalEntries(_ listener: @escaping @Sendable ([AuditEntry]) -> Void) {
        self.listener.withLock { $0 = Listener(notify: listener) }
    }

    /// The entry of one local write (not stored yet: the key service stores it with the write).
    func entry(_ action: AuditAction, keyID: String, changes: [AuditChange], origin: AuditOrigin, atMs: Int64) -> AuditEntry {
        entry(action, keyIDs: keyID.isEmpty ? [] : [keyID], changes: changes, origin: origin, atMs: atMs)
    }

    /// The entry of one local write to several keys (at most `AuditRules.maxKeysPerEntry`).
    func entry(_ action: AuditAction, keyIDs: [String], changes: [AuditChange], origin: AuditOrigin, atMs: Int64) -> AuditEntry {
        precondition(keyIDs.count <= AuditRules.maxKeysPerEntry, "an audit entry names at most \(AuditRules.maxKeysPerEntry) keys")
        var random = SystemRandomNumberGenerator()
        return AuditEntry(
            id: AuditEntry.makeID(atMs: atMs, using: &random), atMs: atMs, node: nodeID, actor: origin.actor, source: origin.source,
            requestID: origin.requestID.value, action: action, keyIDs: keyIDs, changes: changes)
    }

    /// The entries of one bulk import: one per `AuditRules.maxKeysPerEntry` keys, each
    /// naming its keys and how many.
    func importEntries(keyIDs: [String], origin: AuditOrigin, atMs: Int64) -> [AuditEntry] {
        stride(from: 0, to: keyIDs.count, by: AuditRules.maxKeysPerEntry).map { start in
            let chunk = Array(keyIDs[start..<min(keyIDs.count, start + AuditRules.maxKeysPerEntry)])
            return entry(.keyImport, keyIDs: chunk, changes: [AuditChange(field: "keys", before: nil, after: String(chunk.count))], origin: origin, atMs: atMs)
        }
    }

    /// Local entries the key service has just made durable.
    func written(_ entries: [AuditEntry]) {
        guard !entries.isEmpty else { return }
        count(entries)
        listener.withLock { $0 }?.notify(entries)
    }

    private func count(_ entries: [AuditEntry]) {
        let fingerprints = entries.map { ($0.atMs, AuditDigest.fingerprint(ofID: $0.id)) }
        digest.withLock { digest in
            for (atMs, fingerprint) in fingerprints { digest.add(atMs: atMs, fingerprint: fingerprint) }
        }
    }

    /// What `merge` did with a peer's entries.
    public struct MergeOutcome: Sendable, Equatable {
        public var added = 0
        public var rejected: [AuditRules.Rejection: Int] = [:]
        public var failed = false
    }

    /// Entries from a peer: each checked by `AuditRules` (shape, sizes, a time within the
    /// retention and the clock skew), the new ones stored and counted in the digest.
    @discardableResult
    public func merge(_ entries: [AuditEntry], from peer: String) -> MergeOutcome {
        let nowMs = now()
        var outcome = MergeOutcome()
        var accepted: [AuditEntry] = []
        for entry in entries {
            if let rejection = AuditRules.rejection(of: entry, nowMs: nowMs, retentionMs: retentionMs, maxClockSkewMs: maxClockSkewMs) {
                outcome.rejected[rejection, default: 0] += 1
            } else {
                accepted.append(entry)
            }
        }
        if let (reason, _) = outcome.rejected.first {
            logger.warning("replicated audit entries refused", metadata: [
                "peer": "\(peer.prefix(AuditRules.maxNodeBytes))", "refused": "\(entries.count - accepted.count)", "first_reason": "\(reason.rawValue)",
            ])
        }
        guard !accepted.isEmpty else { return outcome }
        do {
            let added = try storage.insertAudit(accepted)
            count(added)
            outcome.added = added.count
        } catch {
            outcome.failed = true
            logger.error("storing replicated audit entries failed; anti-entropy brings them again", metadata: ["error": "\(error)"])
        }
        return outcome
    }

    public func query(_ query: AuditQuery) throws -> [AuditEntry] {
        try storage.queryAudit(query)
    }

    /// The first hour no node may have pruned yet: digests speak from there.
    private var firstKeptHour: Int64 { AuditDigest.hour(ofMs: now() &- retentionMs) + 1 }

    /// The summary anti-entropy sends: the hours within the retention.
    public func currentDigest() -> AuditDigest {
        let from = firstKeptHour
        return digest.withLock { $0 }.from(hour: from)
    }

    /// What one anti-entropy answer sends: the entries of `hours`, at most `limit`. Whole
    /// hours while they fit; an hour holding more than `limit` gives a run of `limit` from a
    /// random place in it, so that rounds repeated cover it all.
    public func entries(forExchange hours: [Int64], limit: Int) -> [AuditEntry] {
        let counts = digest.withLock { digest in hours.map { Int(clamping: digest.buckets[$0]?.count ?? 0) } }
        var found: [AuditEntry] = []
        do {
            for (hour, count) in zip(hours, counts) where count > 0 {
                let budget = limit - found.count
                guard budget > 0 else { break }
                let offset = count > budget ? Int.random(in: 0...(count - budget)) : 0
                found += try storage.auditEntries(inHour: hour, offset: offset, limit: budget)
            }
        } catch {
            logger.error("reading audit entries for anti-entropy failed; the next round tries again", metadata: ["error": "\(error)"])
        }
        return found
    }

    /// When `pruneIfDue` last pruned (Unix ms).
    private let lastPruneMs = LockedBox<Int64>(.min)
    static let pruneIntervalMs: Int64 = 60_000

    /// Prunes at most once a minute (the usage flusher calls this every flush).
    public func pruneIfDue() {
        let nowMs = now()
        let due = lastPruneMs.withLock { last in
            guard nowMs &- last >= Self.pruneIntervalMs || nowMs < last else { return false }
            last = nowMs
            return true
        }
        if due { prune() }
    }

    /// Deletes whole hours past the retention (from the store, then the digest). Returns how
    /// many entries went.
    @discardableResult
    public func prune() -> Int {
        let cutoffMs = AuditDigest.hour(ofMs: now() &- retentionMs) &* AuditDigest.bucketMs
        do {
            let removed = try storage.pruneAudit(before: cutoffMs)
            digest.withLock { $0.removeHours(endingAtOrBefore: cutoffMs) }
            return removed
        } catch {
            logger.error("pruning the audit trail failed; retried at the next flush", metadata: ["error": "\(error)"])
            return 0
        }
    }
}
