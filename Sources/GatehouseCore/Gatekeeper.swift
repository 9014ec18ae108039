/// One node's whole decision state, as a value type with no clock and no locks: the key
/// index (`KeyIndex`), the shared limit counters beside it (`LimitCounters`), THROTTLE
/// buckets, credit usage and the failed-attempt throttle — and the verify decision over them.
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
        /// In a cluster, each node admits against a default-mode limit only up to its share
        /// (`WindowShare`); `false` leaves them to the shared counters alone (strict limits
        /// always keep their escrow). Off only to measure what the shares buy.
        public var clusterShares = true
        /// What a refusal by a share tells the caller to wait: about one hand-over.
        public var shareRetryAfterMs: Int64 = 10
        /// What a refusal while this node recovers its own state tells the caller to wait:
        /// one request to the peers (`beginOwnStateRecovery`).
        public var recoveryRetryAfterMs: Int64 = 1_000

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

    public typealias CreditUsage = GatehouseCore.CreditUsage

    public let hasher: LookupHasher
    public let settings: Settings
    private var index = KeyIndex()
    private var counters = LimitCounters()
    /// Credits and limit shares in escrow, by record slot (the index's).
    private var escrow: EscrowBook
    public private(set) var throttleBuckets: ThrottleBuckets
    private var sourceThrottle: SourceThrottle
    /// Key ids whose `last_used_at` or credit usage changed since the last `takeUsageChanges`.
    private var usageChanged: Set<Int> = []
    private var dirtyThrottleBuckets: Set<BucketKey> = []
    /// Of each window restored after a restart, the largest copy of our own count added so
    /// far (`restoreOwnCounters`), until the recovery ends.
    private var ownCountsRestored: [RestoredWindow: Int64] = [:]
    /// While this node waits for its peers' copies of its own state after a start: until
    /// this time at most (`beginOwnStateRecovery`); `nil` otherwise.
    private var ownStateRecoveryEndsMs: Int64?

    private struct RestoredWindow: Hashable {
        var bucket: CounterBucket
        var windowIndex: Int64
    }

    public init(hasher: LookupHasher, settings: Settings = Settings(), node: String = "local") {
        self.hasher = hasher
        self.settings = settings
        escrow = EscrowBook(me: node)
        throttleBuckets = ThrottleBuckets(capacity: settings.throttleBucketCapacity)
        sourceThrottle = SourceThrottle(
            limit: settings.failedAttemptLimit, windowMs: settings.failedAttemptWindowMs, capacity: settings.failedAttemptSources)
    }

    /// This node's member name: the holder whose escrow rows it writes.
    public var node: String { escrow.me }

    /// Live nodes sharing the counters and escrows (this one included).
    public var clusterSize: Int { escrow.clusterSize }

    /// The live members (this node included), sorted: the holders a new quota is split over.
    public var liveMembers: [String] { escrow.live }

    /// The members the membership reports live; this node is always one of them. Limits in
    /// the default mode split their shares over these (`WindowShare`).
    public mutating func setLiveMembers(_ members: [String]) {
        escrow.setLive(members)
    }

    public var keyCount: Int { index.count }

    /// Room for `records` keys without growing: a start-up that knows how many it loads
    /// sizes the index once instead of doubling it (and copying it) twenty times.
    public mutating func reserveCapacity(_ records: Int) {
        index.reserveCapacity(records)
        counters.reserveCapacity(records)
        escrow.reserveCapacity(records)
    }

    /// Bytes held per structure of the index (for `bench/key-memory`).
    public var indexMemoryReport: [(structure: String, bytes: Int)] { index.memoryReport }
    /// Distinct values the index shares between keys, by kind.
    public var indexSharedValueCounts: [String: Int] { index.sharedValueCounts }
    /// Lookup hashes of imported keys held, by form (`PresentedKey` hashes the extra ways).
    public var importedLookups: ImportedLookups { index.importedLookups }
    /// The anti-entropy digest, kept current on every apply (never rescanned).
    public var digest: ReplicaDigest { index.digest }
    /// Every limit of every key, each a shared counter window (for status pages).
    public var limitWindowCount: Int { counters.windowCount }

    // MARK: - Records

    public func record(id: String) -> KeyRecord? { index.record(id: id) }

    /// Credits left on a key, or `nil` when it has no quota.
    public func creditsRemaining(id: String) -> Int64? {
        guard let slot = index.slot(id: id) else { return nil }
        return creditsRemaining(slot: slot)
    }

    /// Credits left on a key in the refill period of `nowMs`, or `nil` when it has no quota.
    public func creditsRemaining(id: String, nowMs: Int64) -> Int64? {
        guard let slot = index.slot(id: id) else { return nil }
        return creditsRemaining(slot: slot, nowMs: nowMs)
    }

    private func creditsRemaining(slot: Int, nowMs: Int64? = nil) -> Int64? {
        guard index.hasCredits(slot: slot) else { return nil }
        return escrow.creditsRemaining(slot: slot, record: index.record(at: slot), nowMs: nowMs)
    }

    /// The id of the key a lookup hash (current or rotated-out) belongs to.
    public func keyID(ofLookup lookup: LookupHash) -> String? {
        index.target(of: lookup).map { index.id(slot: $0.slot) }
    }

    /// Keys in id order, after `cursor` (exclusive), optionally only one owner's.
    public func list(owner: String?, after cursor: String?, limit: Int) -> [KeyRecord] {
        index.list(owner: owner, after: cursor, limit: limit)
    }

    /// Installs a record if it is newer than what is held (last writer wins by version).
    /// Returns whether anything changed.
    @discardableResult
    public mutating func apply(_ record: KeyRecord) -> Bool {
        switch index.apply(record) {
        case .none:
            return false
        case .inserted:
            counters.append(limits: record.limits)
            escrow.append()
        case .replaced(let slot, let old):
            counters.replaceLimits(slot: slot, from: old.limits, to: record.limits)
            escrow.replaced(slot: slot, old: old, new: record)
        }
        return true
    }

    /// Restores what this node spent of a key's credits, and handed to peers, before a
    /// restart (usage of an older epoch is ignored).
    public mutating func restoreCreditUsage(id: String, _ usage: CreditUsage) {
        guard let slot = index.slot(id: id) else { return }
        escrow.restoreCredits(slot: slot, record: index.record(at: slot), usage: usage)
    }

    /// Records whose `last_used_at` or credit usage changed since the last call, for the
    /// shell to persist in batches.
    public mutating func takeUsageChanges() -> [(record: KeyRecord, creditUsage: CreditUsage?)] {
        usage(ofSlots: takeUsageChangedSlots().sorted()[...])
    }

    /// The record slots `takeUsageChanges` would report, taken in constant time (the set is
    /// handed over, not read), so a shell can sort them outside its lock and read them a few
    /// at a time with `usage(ofSlots:)`.
    public mutating func takeUsageChangedSlots() -> Set<Int> {
        defer { usageChanged = [] }
        return usageChanged
    }

    /// Records and credit usage of slots from `takeUsageChangedSlots` (slots never move).
    public func usage(ofSlots slots: ArraySlice<Int>) -> [(record: KeyRecord, creditUsage: CreditUsage?)] {
        slots.map { slot in
            let record = index.record(at: slot)
            return (record, escrow.creditUsage(slot: slot, record: record))
        }
    }

    // MARK: - Replication

    /// `(id, version)` of the records in the given buckets.
    public func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { index.entries(inBuckets: buckets) }

    /// The records in a range of slots (`0..<keyCount`), to walk every key a batch at a time.
    public func records(inSlots range: Range<Int>) -> [KeyRecord] {
        range.clamped(to: 0..<index.count).map { index.record(at: $0) }
    }

    /// The records with these ids, for sending to a peer (usage such as `last_used_at` included).
    public func records(ids: [String]) -> [KeyRecord] { index.records(ids: ids) }

    // MARK: - The decision

    /// The verify decision of DESIGN §4, in its order.
    public mutating func verify(key: UnsafeRawBufferPointer, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        verify(PresentedKey(key, hasher: hasher, imported: index.importedLookups), request, nowMs: nowMs)
    }

    /// The verify decision for a key already checked and hashed (`PresentedKey`). The hash of
    /// a well-formed key is computed even when its source is throttled; the answer is the same.
    public mutating func verify(_ key: PresentedKey, _ request: VerifyRequest, nowMs: Int64) -> VerifyAnswer {
        let lookup: LookupHash?
        let sha256: LookupHash?
        switch key {
        case .malformed:
            return failedAttempt(.malformed, source: request.source, nowMs: nowMs)
        case .wellFormed(let hash):
            (lookup, sha256) = (hash, nil)
        case .withSHA256(let hash, let digest):
            (lookup, sha256) = (hash, digest)
        }
        if let source = request.source, sourceThrottle.isThrottled(source, nowMs: nowMs) {
            return VerifyAnswer(code: .sourceThrottled)
        }
        guard let target = lookup.flatMap({ index.target(of: $0) }) ?? sha256.flatMap({ index.target(of: $0) }) else {
            return failedAttempt(.notFound, source: request.source, nowMs: nowMs)
        }
        let slot = target.slot
        // The record is read field by field, never put together whole.
        let scopes = index.scopes(slot: slot)
        var answer = VerifyAnswer(
            code: Self.standing(
                revoked: index.isRevoked(slot: slot), enabled: index.isEnabled(slot: slot), expiresAt: index.expiresAt(slot: slot),
                retiredUntil: target.retiredUntil, granted: scopes, request, nowMs: nowMs))
        let keyID = index.id(slot: slot)
        if request.includesRecord {
            answer.keyID = keyID
            answer.owner = index.owner(slot: slot)
            answer.scopes = scopes
            answer.meta = index.meta(slot: slot)
        }
        guard answer.code == .valid else { return answer }

        let cost = max(0, request.cost)
        // A request that spends nothing cannot pass a limit: it is answered while recovering.
        let recovering = cost > 0 && isRecoveringOwnState(nowMs: nowMs)
        // Every limit is checked before any is counted: all or nothing.
        var tightest: SlidingWindow.Check?
        var refusing: SlidingWindow.Check?
        let limits = index.limits(slot: slot)
        for (position, limit) in limits.enumerated() {
            var check = counters.check(slot: slot, position: position, cost: cost, limit: limit, nowMs: nowMs)
            if limit.strict && recovering && check.allowed {
                check.allowed = false
                check.retryAfterMs = settings.recoveryRetryAfterMs
            } else if (limit.strict || settings.clusterShares) && escrow.escrows(limit, holders: index.holders(slot: slot))
                && !escrow.windowAdmits(
                    slot: slot, position: position, limit: limit, keyID: keyID, holders: index.holders(slot: slot),
                    ownUsage: counters.ownEstimate(slot: slot, position: position, limit: limit, nowMs: nowMs), cost: cost, nowMs: nowMs)
                && check.allowed
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
            answer.creditsRemaining = creditsRemaining(slot: slot, nowMs: nowMs)
            return answer
        }
        if let tightest { fill(&answer, from: tightest) }

        if recovering && index.hasCredits(slot: slot) {
            // Not "usage exceeded": the credits may well be there, once the peers said what
            // this node spent of them.
            answer.code = .rateLimited
            answer.retryAfterMs = settings.recoveryRetryAfterMs
            answer.creditsRemaining = creditsRemaining(slot: slot, nowMs: nowMs)
            return answer
        }
        if index.hasCredits(slot: slot), let credits = escrow.spendCredits(slot: slot, record: index.record(at: slot), cost: cost, nowMs: nowMs) {
            guard credits.spent else {
                answer.code = .usageExceeded
                // Nothing was counted against the limits, so report them without this request.
                if let limit = answer.limit, let remaining = answer.remaining {
                    answer.remaining = min(limit, remaining.addingReportingOverflow(cost).overflow ? .max : remaining + cost)
                }
                answer.creditsRemaining = credits.remaining
                return answer
            }
            answer.creditsRemaining = credits.remaining
            if cost > 0 { usageChanged.insert(slot) }
        }
        counters.count(cost: cost, slot: slot, nowMs: nowMs)
        if nowMs - (index.lastUsedAt(slot: slot) ?? Int64.min / 2) >= settings.lastUsedResolutionMs {
            index.setLastUsed(slot: slot, at: nowMs)
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

    /// The records whose own limit counts changed and are not sent yet and are worth weighing
    /// at `nowMs` (counted since the last tick, or waiting and now past their deadline or
    /// counted enough to matter; without a time, all of them), handed out so the caller can
    /// weigh them in small batches (`takeCounterChanges(ofRecords:…)`) instead of holding the
    /// verify path's lock over all of them at once. They stay marked dirty.
    public mutating func takeDirtyCounterRecords(nowMs: Int64 = .max) -> [Int] { counters.takeDirtyRecords(nowMs: nowMs) }

    /// The own slots of those `records` whose unsent counts are due under `rule` (DESIGN §5:
    /// sent by need, not by rate); records not due yet stay dirty for a later call.
    public mutating func takeCounterChanges(ofRecords dirty: ArraySlice<Int>, nowMs: Int64, rule: CounterSendRule) -> [CounterSlot] {
        counters.takeChanges(ofRecords: dirty, in: index, nowMs: nowMs, rule: rule, nodes: clusterSize)
    }

    /// This node's own THROTTLE slots changed since the last call.
    public mutating func takeThrottleChanges() -> [CounterSlot] {
        var changes: [CounterSlot] = []
        for key in dirtyThrottleBuckets {
            guard let window = throttleBuckets.window(for: key) else { continue }
            changes += window.counterSlots(of: 0, bucket: .throttle(name: key.name, windowMs: key.windowMs))
        }
        dirtyThrottleBuckets.removeAll(keepingCapacity: true)
        return changes
    }

    /// Merges slots a peer sent (its own counts, `node` being its ordinal here; a restarted
    /// node's own counts come back through `restoreOwnCounters`). A slot `ReplicaCheck` does
    /// not accept at `nowMs` (a count out of bounds, a window far from now) is skipped.
    /// Returns the slots that brought news (grew a count), which relays pass on.
    @discardableResult
    public mutating func mergeCounters(_ slots: [CounterSlot], from node: NodeOrdinal, nowMs: Int64) -> [CounterSlot] {
        var news: [CounterSlot] = []
        for slot in slots where ReplicaCheck.accepts(slot, nowMs: nowMs) {
            let grew: Bool
            switch slot.bucket {
            case .keyLimit(let keyID, let limitName, let windowMs):
                guard let (recordSlot, position) = limitPosition(keyID: keyID, limit: limitName, windowMs: windowMs) else { continue }
                grew = counters.merge(slot: recordSlot, position: position, windowIndex: slot.windowIndex, node: node, count: slot.count)
            case .throttle(let name, let windowMs):
                grew = throttleBuckets.merge(BucketKey(name: name, windowMs: windowMs), windowIndex: slot.windowIndex, node: node, count: slot.count)
            }
            if grew { news.append(slot) }
        }
        return news
    }

    /// Where a limit's counts live: the record's slot and the limit's position in it.
    private func limitPosition(keyID: String, limit name: String, windowMs: Int64) -> (slot: Int, position: Int)? {
        guard let slot = index.slot(id: keyID),
            let position = index.limits(slot: slot).firstIndex(where: { $0.name == name && $0.windowMs == windowMs })
        else { return nil }
        return (slot, position)
    }

    /// Our own slots from before a restart, as peers kept them (one call per answer, in
    /// parts). The count kept by a peer is added to what this node counted since it started
    /// — the peers' copies never took those smaller counts in, and the shell keeps them back
    /// until the recovery ends — less what an earlier answer added for the same window: so
    /// the count is the largest copy plus the counts since the start, however many peers
    /// answer and in whatever order. A slot `ReplicaCheck` refuses is skipped. Returns the
    /// slots that grew a count.
    @discardableResult
    public mutating func restoreOwnCounters(_ slots: [CounterSlot], nowMs: Int64) -> [CounterSlot] {
        var grown: [CounterSlot] = []
        for slot in slots where ReplicaCheck.accepts(slot, nowMs: nowMs) {
            let window = RestoredWindow(bucket: slot.bucket, windowIndex: slot.windowIndex)
            let base = ownCountsRestored[window] ?? 0
            guard slot.count > base else { continue }
            let grew: Bool
            switch slot.bucket {
            case .keyLimit(let keyID, let limitName, let windowMs):
                guard let (recordSlot, position) = limitPosition(keyID: keyID, limit: limitName, windowMs: windowMs) else { continue }
                grew = counters.restoreOwn(
                    slot: recordSlot, position: position, windowIndex: slot.windowIndex, count: slot.count, restoredBefore: base, nowMs: nowMs)
            case .throttle(let name, let windowMs):
                let key = BucketKey(name: name, windowMs: windowMs)
                grew = throttleBuckets.restoreOwn(key, windowIndex: slot.windowIndex, count: slot.count, restoredBefore: base)
                if grew { dirtyThrottleBuckets.insert(key) }
            }
            ownCountsRestored[window] = slot.count
            if grew { grown.append(slot) }
        }
        return grown
    }

    /// A start in a cluster: this node's counts and escrow rows from before it (what it
    /// admitted, spent and handed to peers) are only in its peers' copies until they answer
    /// (`restoreOwnCounters`, `mergeEscrowRows` of its own). Until `endCounterRecovery`, or
    /// `untilMs` at the latest (alone, nobody can answer), it refuses what a strict limit or
    /// credits would decide and hands nothing over: spending a share it may have spent
    /// already would pass a limit that must never be passed. Default-mode limits answer on.
    public mutating func beginOwnStateRecovery(untilMs: Int64) {
        ownStateRecoveryEndsMs = untilMs
    }

    /// Whether strict limits and credits still wait for the peers' copies (`beginOwnStateRecovery`).
    public func isRecoveringOwnState(nowMs: Int64) -> Bool {
        guard let ends = ownStateRecoveryEndsMs else { return false }
        return nowMs < ends
    }

    /// The recovery of our own counts is over: forget what it added (later answers, from a
    /// peer asked again, would count again), and decide strict limits and credits again.
    public mutating func endCounterRecovery() {
        ownCountsRestored = [:]
        ownStateRecoveryEndsMs = nil
    }

    /// Every slot held for `node`, to hand a restarted peer its own counts back.
    public func counterSlots(of node: NodeOrdinal) -> [CounterSlot] {
        counterSlots(of: node, inRecords: 0..<index.count) + throttleSlots(of: node)
    }

    /// The slots held for `node` in some records' limits, so a caller can walk every record
    /// in small ranges instead of holding the verify path's lock over all of them.
    public func counterSlots(of node: NodeOrdinal, inRecords range: Range<Int>) -> [CounterSlot] {
        counters.slots(of: node, inRecords: range, in: index)
    }

    /// The THROTTLE slots held for `node`.
    public func throttleSlots(of node: NodeOrdinal) -> [CounterSlot] {
        var slots: [CounterSlot] = []
        throttleBuckets.forEachWindow { key, window in
            slots += window.counterSlots(of: node, bucket: .throttle(name: key.name, windowMs: key.windowMs))
        }
        return slots
    }

    // MARK: - Escrow

    /// Whether the verify path asked for more of some share or credits since the last
    /// `takeEscrowWants` (checked by the shell after a verify, without copying anything).
    public var hasEscrowWants: Bool { !escrow.wants.isEmpty }

    /// The requests for more the verify path made since the last call, for every live peer.
    public mutating func takeEscrowWants() -> [EscrowWant] { escrow.takeWants() }

    /// Answers `peer`'s request for more of a ledger: hands over part of what this node holds
    /// and does not use. Returns this node's updated row when it handed anything.
    /// Hands over nothing while this node recovers its own state: it does not know yet what
    /// it holds.
    public mutating func handOver(_ want: EscrowWant, to peer: String, nowMs: Int64) -> EscrowRow? {
        guard !isRecoveringOwnState(nowMs: nowMs), let slot = index.slot(id: want.ledger.keyID) else { return nil }
        let counters = counters
        let row = escrow.handOver(want, to: peer, slot: slot, record: index.record(at: slot), nowMs: nowMs) { position, limit in
            var window = counters.window(slot: slot, position: position)
            window.advance(nowMs: nowMs, windowMs: limit.windowMs)
            return window.ownEstimate(nowMs: nowMs, windowMs: limit.windowMs)
        }
        // What this node handed over of credits is persisted with what it spent.
        if row != nil, case .credits = want.ledger { usageChanged.insert(slot) }
        return row
    }

    /// Takes rows `node` wrote (its own: from its stream, or this node's own given back by a
    /// peer after a restart). Returns how many were refused as malformed; rows for an unknown
    /// key or on other terms are ignored.
    @discardableResult
    public mutating func mergeEscrowRows(_ rows: [EscrowRow], of node: String, nowMs: Int64) -> Int {
        var refused = 0
        for row in rows {
            guard let slot = index.slot(id: row.ledger.keyID) else { continue }
            if !escrow.merge(row, of: node, slot: slot, record: index.record(at: slot), nowMs: nowMs) {
                refused += 1
            } else if node == escrow.me, case .credits = row.ledger {
                usageChanged.insert(slot)
            }
        }
        return refused
    }

    /// This node's credit rows that changed since the last call (to send to peers).
    public mutating func takeChangedCreditRows() -> [EscrowRow] {
        let index = index
        return escrow.takeChangedCreditRows { index.record(at: $0) }
    }

    /// `node`'s rows of the ledgers of the records in `range` (this node's own, for a peer
    /// whose stream came up; a peer's, to give back after its restart).
    public func escrowRows(of node: String, inRecords range: Range<Int>) -> [EscrowRow] {
        escrow.rows(of: node, inSlots: range) { index.record(at: $0) }
    }

    /// Drops ended throttle windows; the shell calls it on a timer.
    public mutating func sweep(nowMs: Int64) {
        throttleBuckets.sweep(nowMs: nowMs)
    }
}


