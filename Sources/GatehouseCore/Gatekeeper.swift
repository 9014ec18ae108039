/// The in-memory index of key records plus every counter the verify decision reads:
/// one node's whole decision state, as a value type with no clock and no locks.
///
/// The shell owns one and serialises access to it; time arrives as an argument.
public struct Gatekeeper: Sendable {
    /// Tunables of the decision.
    public struct Settings: Sendable {
        public var failedAttemptLimit: Int64
        public var failedAttemptWindowMs: Int64
        /// Most sources the failed-attempt throttle tracks (see `SourceThrottle` for the
        /// guarantee this buys and its memory).
        public var failedAttemptSources = SourceThrottle.defaultCapacity
        public var throttleBucketCapacity: Int
        /// `last_used_at` is only refreshed when it is at least this old.
        public var lastUsedResolutionMs: Int64
        /// In a cluster, once a limit's count passes `shareThreshold` of it, each node admits
        /// only its share of the remaining budget between counter syncs.
        public var clusterShares = true
        public var shareThreshold = 0.8
        /// What a refusal by the share rule tells the caller to wait: about one counter sync.
        public var shareRetryAfterMs: Int64 = 50

        public init(
            failedAttemptLimit: Int64 = 50, failedAttemptWindowMs: Int64 = 60_000,
            throttleBucketCapacity: Int = 1_000_000, lastUsedResolutionMs: Int64 = 60_000
        ) {
            self.failedAttemptLimit = failedAttemptLimit
            self.failedAttemptWindowMs = failedAttemptWindowMs
            self.throttleBucketCapacity = throttleBucketCapacity
            self.lastUsedResolutionMs = lastUsedResolutionMs
        }
    }

    /// Where a lookup hash points: a record slot, and for a rotated-out secret, until when.
    struct LookupTarget: Sendable {
        var slot: Int
        var retiredUntil: Int64?
    }

    /// Usage counted against a key's credits since the quota was last set.
    public struct CreditUsage: Sendable, Hashable {
        public var epoch: HybridTimestamp
        public var used: Int64

        public init(epoch: HybridTimestamp, used: Int64) {
            self.epoch = epoch
            self.used = used
        }
    }

    public let hasher: LookupHasher
    public let settings: Settings
    /// Live nodes sharing the counters (this one included); the shell keeps it current.
    public var clusterSize = 1
    private var records: [KeyRecord] = []
    /// One sliding window per limit of the record in the same slot.
    private var limitWindows: [[SlidingWindow]] = []
    private var creditUsage: [CreditUsage?] = []
    private var slotByID: [String: Int] = [:]
    private var targetByLookup: [LookupHash: LookupTarget] = [:]
    private var idsByOwner: [String: Set<String>] = [:]
    /// The anti-entropy digest, kept current on every apply (never rescanned).
    public private(set) var digest = ReplicaDigest()
    /// Record slots by digest bucket, so a bucket's entries are found without a scan.
    private var slotsByBucket: [[Int]] = Array(repeating: [], count: ReplicaDigest.bucketCount)
    public private(set) var throttleBuckets: ThrottleBuckets
    private var sourceThrottle: SourceThrottle
    /// Key ids whose `last_used_at` or credit usage changed since the last `takeUsageChanges`.
    private var usageChanged: Set<Int> = []
    /// Record slots whose limit counters this node raised since the last `takeCounterChanges`;
    /// a flag per slot so the hot path marks without hashing.
    private var counterDirty: [Bool] = []
    /// When each dirty record's first unsent count was made (its staleness clock).
    private var counterDirtySince: [Int64] = []
    private var dirtySlots: [Int] = []
    private var dirtyThrottleBuckets: Set<BucketKey> = []

    public init(hasher: LookupHasher, settings: Settings = Settings()) {
        self.hasher = hasher
        self.settings = settings
        throttleBuckets = ThrottleBuckets(capacity: settings.throttleBucketCapacity)
        sourceThrottle = SourceThrottle(
            limit: settings.failedAttemptLimit, windowMs: settings.failedAttemptWindowMs, capacity: settings.failedAttemptSources)
    }

    public var keyCount: Int { records.count }

    // MARK: - Records

    public func record(id: String) -> KeyRecord? {
        slotByID[id].map { records[$0] }
    }

    /// Credits left on a key, or `nil` when it has no quota.
    public func creditsRemaining(id: String) -> Int64? {
        guard let slot = slotByID[id] else { return nil }
        return creditsRemaining(slot: slot)
    }

    private func creditsRemaining(slot: Int) -> Int64? {
        guard let credits = records[slot].credits else { return nil }
        guard let usage = creditUsage[slot], usage.epoch == records[slot].creditsEpoch else { return credits }
        return max(0, credits - usage.used)
    }

    /// Keys in id order, after `cursor` (exclusive), optionally only one owner's.
    public func list(owner: String?, after cursor: String?, limit: Int) -> [KeyRecord] {
        let ids: [String]
        if let owner {
            ids = idsByOwner[owner].map { Array($0) } ?? []
        } else {
            ids = Array(slotByID.keys)
        }
        return ids.filter { cursor == nil || $0 > cursor! }.sorted().prefix(max(0, limit)).map { records[slotByID[$0]!] }
    }

    /// Installs a record if it is newer than what is held (last writer wins by version).
    /// Returns whether anything changed.
    @discardableResult
    public mutating func apply(_ record: KeyRecord) -> Bool {
        if let slot = slotByID[record.id] {
            let old = records[slot]
            guard record.version > old.version else { return false }
            for lookup in Self.lookups(of: old) { targetByLookup[lookup] = nil }
            if old.owner != record.owner {
                idsByOwner[old.owner]?.remove(old.id)
                if idsByOwner[old.owner]?.isEmpty == true { idsByOwner[old.owner] = nil }
                idsByOwner[record.owner, default: []].insert(record.id)
            }
            if old.limits != record.limits {
                limitWindowCount += record.limits.count - old.limits.count
                limitWindows[slot] = record.limits.map { limit in
                    old.limits.firstIndex(of: limit).map { limitWindows[slot][$0] } ?? SlidingWindow()
                }
            }
            digest.remove(id: old.id, version: old.version)
            digest.add(id: record.id, version: record.version)
            var merged = record
            // `last_used_at` is usage, not part of the write: keep the later of the two.
            if let seen = old.lastUsedAt, seen > (record.lastUsedAt ?? Int64.min) { merged.lastUsedAt = seen }
            records[slot] = merged
            index(merged, slot: slot)
        } else {
            let slot = records.count
            records.append(record)
            limitWindows.append(record.limits.map { _ in SlidingWindow() })
            limitWindowCount += record.limits.count
            creditUsage.append(nil)
            counterDirty.append(false)
            counterDirtySince.append(0)
            slotByID[record.id] = slot
            idsByOwner[record.owner, default: []].insert(record.id)
            digest.add(id: record.id, version: record.version)
            slotsByBucket[ReplicaDigest.bucket(of: record.id)].append(slot)
            index(record, slot: slot)
        }
        return true
    }

    private mutating func index(_ record: KeyRecord, slot: Int) {
        targetByLookup[record.lookup] = LookupTarget(slot: slot, retiredUntil: nil)
        for retired in record.retiredSecrets {
            targetByLookup[retired.lookup] = LookupTarget(slot: slot, retiredUntil: retired.validUntil)
        }
    }

    private static func lookups(of record: KeyRecord) -> [LookupHash] {
        [record.lookup] + record.retiredSecrets.map(\.lookup)
    }

    /// Restores credit usage counted before a restart.
    public mutating func restoreCreditUsage(id: String, _ usage: CreditUsage) {
        guard let slot = slotByID[id] else { return }
        creditUsage[slot] = usage
    }

    /// Records whose `last_used_at` or credit usage changed since the last call, for the
    /// shell to persist in batches.
    public mutating func takeUsageChanges() -> [(record: KeyRecord, creditUsage: CreditUsage?)] {
        defer { usageChanged.removeAll(keepingCapacity: true) }
        return usageChanged.sorted().map { (records[$0], creditUsage[$0]) }
    }

    // MARK: - Replication


    /// `(id, version)` of the records in the given buckets.
    public func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] {
        buckets.sorted().flatMap { bucket in
            slotsByBucket.indices.contains(bucket)
                ? slotsByBucket[bucket].map { ReplicaEntry(id: records[$0].id, version: records[$0].version) } : []
        }
    }

    /// The records with these ids, for sending to a peer (usage such as `last_used_at` included).
    public func records(ids: [String]) -> [KeyRecord] {
        ids.compactMap { slotByID[$0].map { records[$0] } }
    }

    // MARK: - The decision

    /// The verify decision of DESIGN §4, in its order.
    public mutating func verify(key: UnsafeRawBufferPointer, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        verify(PresentedKey(key, hasher: hasher), request, nowMs: nowMs)
    }

    /// The verify decision for a key already checked and hashed (`PresentedKey`). The hash of
    /// a well-formed key is computed even when its source is throttled; the answer is the same.
    public mutating func verify(_ key: PresentedKey, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        guard case .wellFormed(let lookup) = key else {
            return failedAttempt(.malformed, source: request.source, nowMs: nowMs)
        }
        if let source = request.source, sourceThrottle.isThrottled(source, nowMs: nowMs) {
            return VerifyAnswer(code: .sourceThrottled)
        }
        guard let target = targetByLookup[lookup] else {
            return failedAttempt(.notFound, source: request.source, nowMs: nowMs)
        }
        let slot = target.slot
        // The record is read in place (`records[slot]`), never copied whole: a copy would
        // retain every field, on reference counts all event loops share.
        // Field by field: a method called on `records[slot]` would copy the record whole.
        var answer = VerifyAnswer(
            code: Self.standing(
                revoked: records[slot].isRevoked, enabled: records[slot].enabled, expiresAt: records[slot].expiresAt,
                retiredUntil: target.retiredUntil, granted: records[slot].scopes, request, nowMs: nowMs))
        answer.keyID = records[slot].id
        answer.owner = records[slot].owner
        answer.scopes = records[slot].scopes
        answer.meta = records[slot].meta
        guard answer.code == .valid else { return answer }

        let cost = max(0, request.cost)
        // Every limit is checked before any is counted: all or nothing.
        var tightest: SlidingWindow.Check?
        var refusing: SlidingWindow.Check?
        let limitCount = records[slot].limits.count
        for position in 0..<limitCount {
            let limit = records[slot].limits[position]
            var check = limitWindows[slot][position].check(cost: cost, limit: limit.limit, windowMs: limit.windowMs, nowMs: nowMs)
            if check.allowed && settings.clusterShares && clusterSize > 1
                && !limitWindows[slot][position].fitsShare(
                    cost: cost, limit: limit.limit, windowMs: limit.windowMs, nowMs: nowMs, nodes: clusterSize, threshold: settings.shareThreshold)
            {
                check.allowed = false
                check.retryAfterMs = settings.shareRetryAfterMs
            }
            if !check.allowed {
                if refusing == nil || check.retryAfterMs > refusing!.retryAfterMs { refusing = check }
            } else if tightest == nil || check.remaining < tightest!.remaining {
                tightest = check
            }
        }
        if let refusing {
            answer.code = .rateLimited
            fill(&answer, from: refusing)
            answer.creditsRemaining = creditsRemaining(slot: slot)
            return answer
        }
        if let tightest { fill(&answer, from: tightest) }

        if let left = creditsRemaining(slot: slot) {
            guard left >= cost else {
                answer.code = .usageExceeded
                // Nothing was counted against the limits, so report them without this request.
                if let limit = answer.limit, let remaining = answer.remaining {
                    answer.remaining = min(limit, remaining.addingReportingOverflow(cost).overflow ? .max : remaining + cost)
                }
                answer.creditsRemaining = left
                return answer
            }
            let epoch = records[slot].creditsEpoch
            let used = (creditUsage[slot]?.epoch == epoch ? creditUsage[slot]!.used : 0) + cost
            creditUsage[slot] = CreditUsage(epoch: epoch, used: used)
            answer.creditsRemaining = left - cost
            usageChanged.insert(slot)
        }
        for position in 0..<limitCount {
            limitWindows[slot][position].record(cost: cost)
        }
        if cost > 0 && limitCount > 0 && !counterDirty[slot] {
            counterDirty[slot] = true
            counterDirtySince[slot] = nowMs
            dirtySlots.append(slot)
        }
        if nowMs - (records[slot].lastUsedAt ?? Int64.min / 2) >= settings.lastUsedResolutionMs {
            records[slot].lastUsedAt = nowMs
            usageChanged.insert(slot)
        }
        return answer
    }

    /// The codes a record decides on its own, before any counter: revoked, disabled,
    /// expired (or a rotated-out secret past its grace), missing scope; else `.valid`.
    private static func standing(
        revoked: Bool, enabled: Bool, expiresAt: Int64?, retiredUntil: Int64?, granted: [String], _ request: VerifyRequest, nowMs: Int64
    ) -> VerifyCode {
        if revoked { return .revoked }
        if !enabled { return .disabled }
        if let expiresAt, nowMs >= expiresAt { return .expired }
        if let retiredUntil, nowMs >= retiredUntil { return .expired }
        if !ScopeMatcher.allows(granted: granted, required: request.scopes) { return .insufficientScope }
        return .valid
    }

    public mutating func verify(key: String, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        var key = key
        return key.withUTF8 { verify(key: UnsafeRawBufferPointer($0), request, nowMs: nowMs) }
    }

    private func fill(_ answer: inout VerifyAnswer, from check: SlidingWindow.Check) {
        answer.limit = check.limit
        answer.remaining = check.remaining
        answer.resetMs = check.resetMs
        answer.retryAfterMs = check.retryAfterMs
    }

    private mutating func failedAttempt(_ code: VerifyCode, source: SourceIdentity?, nowMs: Int64) -> VerifyAnswer {
        if let source { sourceThrottle.recordFailure(source, nowMs: nowMs) }
        return VerifyAnswer(code: code)
    }

    // MARK: - Failed attempts other than keys

    /// Whether `source` has failed too often to be heard: a refused token (RESP `AUTH`, an
    /// HTTP bearer) counts in the same throttle as a bad key, so a source guessing tokens is
    /// refused like one guessing keys.
    public func isSourceThrottled(_ source: SourceIdentity, nowMs: Int64) -> Bool {
        sourceThrottle.isThrottled(source, nowMs: nowMs)
    }

    /// Counts a refused token from `source` as a failed attempt.
    public mutating func recordFailedAttempt(_ source: SourceIdentity, nowMs: Int64) {
        sourceThrottle.recordFailure(source, nowMs: nowMs)
    }

    /// Sources the failed-attempt throttle tracks, and how many it forgot to make room.
    public var failedAttemptSources: (tracked: Int, evicted: Int) { (sourceThrottle.count, sourceThrottle.evictions) }

    /// A free-form rate limit: `THROTTLE bucket limit window_ms [COST n]`.
    public mutating func throttle(bucket: String, limit: Int64, windowMs: Int64, cost: Int64, nowMs: Int64) -> ThrottleAnswer {
        let key = BucketKey(name: bucket, windowMs: windowMs)
        let answer = throttleBuckets.hit(key, limit: limit, cost: cost, nowMs: nowMs)
        if answer.allowed && cost > 0 { dirtyThrottleBuckets.insert(key) }
        return answer
    }

    // MARK: - Shared counters

    /// This node's own slots that changed since the last call, all of them whatever their
    /// need: what a perfect network would send (simulators and tests).
    public mutating func takeCounterChanges() -> [CounterSlot] {
        let records = takeDirtyCounterRecords()
        return takeCounterChanges(ofRecords: records[...], nowMs: 0, rule: .always) + takeThrottleChanges()
    }

    /// The records whose own limit counts changed and are not sent yet, handed out so the
    /// caller can weigh them in small batches (`takeCounterChanges(ofRecords:…)`) instead of
    /// holding the verify path's lock over all of them at once. They stay marked dirty.
    public mutating func takeDirtyCounterRecords() -> [Int] {
        defer { dirtySlots.removeAll(keepingCapacity: true) }
        return dirtySlots
    }

    /// The own slots of those `records` whose unsent counts are due under `rule` (DESIGN §5:
    /// sent by need, not by rate); records not due yet stay dirty for a later call.
    public mutating func takeCounterChanges(ofRecords dirty: ArraySlice<Int>, nowMs: Int64, rule: CounterSendRule) -> [CounterSlot] {
        var changes: [CounterSlot] = []
        for slot in dirty where slot < records.count && counterDirty[slot] {
            let unsentForMs = nowMs &- counterDirtySince[slot]
            var due = false
            var anyUnsent = false
            for (position, limit) in records[slot].limits.enumerated() {
                let window = limitWindows[slot][position]
                anyUnsent = anyUnsent || window.unsyncedOwn > 0
                if rule.isDue(
                    unsent: window.unsyncedOwn, estimate: window.estimate(nowMs: nowMs, windowMs: limit.windowMs), limit: limit.limit,
                    windowMs: limit.windowMs, nodes: clusterSize, unsentForMs: unsentForMs)
                {
                    due = true
                    break
                }
            }
            guard due || !anyUnsent else {
                dirtySlots.append(slot)
                continue
            }
            counterDirty[slot] = false
            let record = records[slot]
            for (position, limit) in record.limits.enumerated() {
                let bucket = CounterBucket.keyLimit(keyID: record.id, limit: limit.name, windowMs: limit.windowMs)
                for own in limitWindows[slot][position].unsentOwnSlots {
                    changes.append(CounterSlot(bucket: bucket, windowIndex: own.windowIndex, count: own.count))
                }
                limitWindows[slot][position].markSynced()
            }
        }
        return changes
    }

    /// This node's own THROTTLE slots changed since the last call.
    public mutating func takeThrottleChanges() -> [CounterSlot] {
        var changes: [CounterSlot] = []
        for key in dirtyThrottleBuckets {
            guard let window = throttleBuckets.window(for: key) else { continue }
            changes += Self.ownSlots(of: window, bucket: .throttle(name: key.name, windowMs: key.windowMs), node: 0)
        }
        dirtyThrottleBuckets.removeAll(keepingCapacity: true)
        return changes
    }

    private static func ownSlots(of window: SlidingWindow, bucket: CounterBucket, node: NodeOrdinal) -> [CounterSlot] {
        [window.previous, window.current].compactMap { slots in
            let count = slots.count(of: node)
            return count > 0 && slots.index != Int64.min ? CounterSlot(bucket: bucket, windowIndex: slots.index, count: count) : nil
        }
    }

    /// Merges slots a peer sent (its own counts, `node` being its ordinal here; `0` restores
    /// this node's own slots from a peer's copy after a restart).
    /// Returns the slots that brought news (grew a count), which relays pass on.
    @discardableResult
    public mutating func mergeCounters(_ slots: [CounterSlot], from node: NodeOrdinal) -> [CounterSlot] {
        var news: [CounterSlot] = []
        for slot in slots {
            let grew: Bool
            switch slot.bucket {
            case .keyLimit(let keyID, let limitName, let windowMs):
                guard let recordSlot = slotByID[keyID],
                    let position = records[recordSlot].limits.firstIndex(where: { $0.name == limitName && $0.windowMs == windowMs })
                else { continue }
                grew = limitWindows[recordSlot][position].merge(windowIndex: slot.windowIndex, node: node, count: slot.count)
            case .throttle(let name, let windowMs):
                grew = throttleBuckets.merge(BucketKey(name: name, windowMs: windowMs), windowIndex: slot.windowIndex, node: node, count: slot.count)
            }
            if grew { news.append(slot) }
        }
        return news
    }

    /// Every slot held for `node`, to hand a restarted peer its own counts back.
    public func counterSlots(of node: NodeOrdinal) -> [CounterSlot] {
        counterSlots(of: node, inRecords: records.indices) + throttleSlots(of: node)
    }

    /// The slots held for `node` in some records' limits, so a caller can walk every record
    /// in small ranges instead of holding the verify path's lock over all of them.
    public func counterSlots(of node: NodeOrdinal, inRecords range: Range<Int>) -> [CounterSlot] {
        var slots: [CounterSlot] = []
        for recordSlot in range.clamped(to: records.indices) {
            for (position, limit) in records[recordSlot].limits.enumerated() {
                let bucket = CounterBucket.keyLimit(keyID: records[recordSlot].id, limit: limit.name, windowMs: limit.windowMs)
                slots += Self.ownSlots(of: limitWindows[recordSlot][position], bucket: bucket, node: node)
            }
        }
        return slots
    }

    /// The THROTTLE slots held for `node`.
    public func throttleSlots(of node: NodeOrdinal) -> [CounterSlot] {
        var slots: [CounterSlot] = []
        throttleBuckets.forEachWindow { key, window in
            slots += Self.ownSlots(of: window, bucket: .throttle(name: key.name, windowMs: key.windowMs), node: node)
        }
        return slots
    }

    /// Every limit of every key, each a shared counter window (for status pages).
    public private(set) var limitWindowCount = 0

    /// Drops ended throttle windows; the shell calls it on a timer.
    public mutating func sweep(nowMs: Int64) {
        throttleBuckets.sweep(nowMs: nowMs)
    }
}

extension KeyRecord {
    /// The write that set the quota, which usage is counted against. Records written before
    /// `credits_set_at` existed count from their version.
    fileprivate var creditsEpoch: HybridTimestamp { creditsSetAt ?? version }
}
