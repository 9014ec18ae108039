/// This node's escrows, by record slot (the index's): the credits of each key's current
/// epoch (`CreditEscrow`) and its share of each limit (`WindowShare`), created when first
/// needed, with the requests for more that the verify path made and the shell has not sent.
///
/// Pure: the caller passes the record, the time and this node's own sliding counts.
struct EscrowBook: Sendable {
    struct Settings: Hashable, Sendable {
        /// A ledger asks its peers for more at most this often.
        var wantIntervalMs: Int64 = 5
    }

    /// One record's escrows.
    struct Entry: SparseSlotEntry {
        var credits: CreditEscrow?
        /// The ledger `credits` is, its refill period included.
        var creditsLedger: EscrowLedger?
        var creditsPeriod: Int64 = 0
        var creditsLastWantMs = EscrowBook.neverAsked
        /// By limit position; a position's share is `nil` until the limit is first checked
        /// in a cluster.
        var windows: [WindowEntry] = []
    }

    /// One limit's share on this node, with what the verify path reads on every request
    /// kept beside it (this node's holding and ceiling): a check is then arithmetic on one
    /// array element instead of lookups by member name in the share's rows, which matters
    /// when ten thousand keys' escrows no longer fit in the cache.
    struct WindowEntry: Sendable {
        private(set) var share: WindowShare?
        /// The live membership's generation a default-mode share was split over.
        private(set) var generation = 0
        var lastWantMs = EscrowBook.neverAsked
        /// `share.holdings.held(by: me)` and `share.ceiling(of: me)`, kept current by `set`
        /// and `update`, the only ways the share changes.
        private(set) var ownHeld: Int64 = 0
        private(set) var ownCeiling: Double = 0

        mutating func set(_ new: WindowShare, generation: Int, me: String) {
            share = new
            self.generation = generation
            refresh(me: me)
        }

        /// Changes the share in place (it must exist) and refreshes this node's figures.
        @discardableResult
        mutating func update<Result>(me: String, _ change: (inout WindowShare) -> Result) -> Result {
            let result = change(&share!)
            refresh(me: me)
            return result
        }

        private mutating func refresh(me: String) {
            ownHeld = share?.holdings.held(by: me) ?? 0
            ownCeiling = share?.ceiling(of: me) ?? 0
        }
    }

    /// "Never asked": far enough in the past that `now − neverAsked` cannot overflow.
    static let neverAsked: Int64 = -(1 << 62)

    let me: String
    let settings: Settings
    /// Live members, this node included, sorted: who holds default-mode limits.
    private(set) var live: [String]
    private var liveGeneration = 0
    /// Made on a record's first escrow (`SparseSlots`): idle keys cost 4 bytes.
    private var entries = SparseSlots<Entry>()
    /// Asked for by the verify path, not yet taken by the shell.
    private(set) var wants: [EscrowWant] = []
    /// Credit ledgers whose own rows changed (spent) since the shell last sent them.
    private var changedCredits: Set<Int> = []

    init(me: String, settings: Settings = Settings()) {
        self.me = me
        self.settings = settings
        live = [me]
    }

    var clusterSize: Int { live.count }

    /// The members the membership reports live (this node is added when missing).
    mutating func setLive(_ members: [String]) {
        let sorted = Array(Set(members + [me])).sorted()
        guard sorted != live else { return }
        live = sorted
        liveGeneration &+= 1
    }

    /// A record was added in the next slot.
    mutating func append() { entries.appendSlot() }

    /// Room for `slots` records without growing.
    mutating func reserveCapacity(_ slots: Int) { entries.reserveCapacity(slots) }

    /// A record's new version replaced the old: escrows whose terms changed start over
    /// (a new credit epoch, a limit's new value, strictness or holders).
    mutating func replaced(slot: Int, old: KeyRecord, new: KeyRecord) {
        guard entries.hasEntry(slot) else { return }
        if old.creditsLedgerTerms != new.creditsLedgerTerms { entries[slot].credits = nil }
        if old.limits != new.limits || old.holders != new.holders {
            let kept = entries[slot].windows
            entries[slot].windows = []
            for (position, limit) in new.limits.enumerated() {
                guard let before = old.limits.firstIndex(of: limit), before < kept.count, let share = kept[before].share,
                    old.holders == new.holders || !limit.strict
                else { continue }
                ensureWindowSlots(slot: slot, count: position + 1)
                entries[slot].windows[position].set(share, generation: kept[before].generation, me: me)
            }
        }
    }

    /// Who shares a key's credits and strict limits: its `holders`, or for a record written
    /// before escrow existed the members live when the escrow is first needed.
    func holders(of record: KeyRecord) -> [String] {
        holders(record.holders)
    }

    /// `holders(of:)` from the record's `holders` alone.
    func holders(_ recordHolders: [String]) -> [String] {
        recordHolders.isEmpty ? live : recordHolders
    }

    // MARK: Credits

    /// Credits left on the key in `slot`, cluster-wide as far as this node knows, in the
    /// refill period of `nowMs` (without a time: the period last used here).
    func creditsRemaining(slot: Int, record: KeyRecord, nowMs: Int64?) -> Int64? {
        guard record.credits != nil else { return nil }
        let entry = entries[slot]
        let period = nowMs.map(record.creditPeriod(atMs:)) ?? (entry.credits == nil ? record.creditPeriod(atMs: record.creditsEpoch.wallMs) : entry.creditsPeriod)
        if let escrow = entry.credits, entry.creditsPeriod >= period { return escrow.remaining }
        return record.creditQuota(period: period)
    }

    /// Spends `cost` of the key's credits if this node holds that much; asks for more when
    /// it runs low. `nil` when the key has no quota.
    mutating func spendCredits(slot: Int, record: KeyRecord, cost: Int64, nowMs: Int64) -> (spent: Bool, remaining: Int64)? {
        guard record.credits != nil else { return nil }
        ensureCredits(slot: slot, record: record, period: record.creditPeriod(atMs: nowMs))
        let spent = entries[slot].credits!.spend(cost, by: me)
        if spent && cost > 0 { changedCredits.insert(slot) }
        let escrow = entries[slot].credits!
        let held = escrow.held(by: me)
        let available = escrow.available(to: me)
        if available < max(cost, held / 4 + 1), held < escrow.quota,
            nowMs &- entries[slot].creditsLastWantMs >= settings.wantIntervalMs
        {
            entries[slot].creditsLastWantMs = nowMs
            wants.append(EscrowWant(ledger: entries[slot].creditsLedger!, quota: escrow.quota, amount: max(1, cost, held)))
        }
        return (spent, escrow.remaining)
    }

    /// Makes the ledger of `period` the key's current one when it is newer than the one held
    /// (a refill: a fresh quota, nothing spent); an older period keeps the newer ledger.
    private mutating func ensureCredits(slot: Int, record: KeyRecord, period: Int64) {
        if entries[slot].credits != nil && entries[slot].creditsPeriod >= period { return }
        guard let quota = record.creditQuota(period: period) else { return }
        entries[slot].credits = CreditEscrow(quota: quota, holders: holders(of: record))
        entries[slot].creditsLedger = .credits(keyID: record.id, epoch: record.creditsEpoch, period: period)
        entries[slot].creditsPeriod = period
    }

    /// Whether a peer's credits ledger is the one held (after moving on to its period when it
    /// is at most one ahead of `nowMs`'s: a peer whose clock crossed the boundary first).
    private mutating func holdsCredits(_ ledger: EscrowLedger, quota: Int64, slot: Int, record: KeyRecord, nowMs: Int64) -> Bool {
        guard case .credits(_, let epoch, let period) = ledger, epoch == record.creditsEpoch,
            record.creditQuota(period: period) == quota, period <= record.creditPeriod(atMs: nowMs) + 1
        else { return false }
        ensureCredits(slot: slot, record: record, period: period)
        return entries[slot].creditsPeriod == period
    }

    /// Restores what this node spent and handed over before a restart (from its disk).
    mutating func restoreCredits(slot: Int, record: KeyRecord, usage: CreditUsage) {
        guard usage.epoch == record.creditsEpoch, record.credits != nil else { return }
        ensureCredits(slot: slot, record: record, period: usage.period)
        guard entries[slot].creditsPeriod == usage.period else { return }
        entries[slot].credits!.merge(rowsOf: me, spent: usage.used, given: usage.given)
    }

    /// This node's own credit rows of the key in `slot`, to persist.
    func creditUsage(slot: Int, record: KeyRecord) -> CreditUsage? {
        guard let escrow = entries[slot].credits else { return nil }
        let rows = escrow.rows(of: me)
        return CreditUsage(epoch: record.creditsEpoch, used: rows.spent, given: rows.given, period: entries[slot].creditsPeriod)
    }

    // MARK: Windows

    /// Whether the limit at `position` is held in escrow on this node now: always for a
    /// strict limit shared with others, for a default one while other members are live.
    func escrows(_ limit: RateLimit, holders recordHolders: [String]) -> Bool {
        guard limit.strict else { return live.count > 1 }
        let holders = holders(recordHolders)
        return holders.count != 1 || holders[0] != me
    }

    /// Whether this node, whose own sliding count of the limit is `ownUsage`, may admit
    /// `cost` more under its share; asks for more when it nears what it holds.
    mutating func windowAdmits(
        slot: Int, position: Int, limit: RateLimit, keyID: String, holders: [String], ownUsage: Double, cost: Int64, nowMs: Int64
    ) -> Bool {
        ensureWindow(slot: slot, position: position, limit: limit, holders: holders)
        let admits = ownUsage + Double(cost) <= entries[slot].windows[position].ownCeiling
        if let amount = WindowShare.want(ownUsage: ownUsage, cost: cost, held: entries[slot].windows[position].ownHeld, limit: limit.limit),
            nowMs &- entries[slot].windows[position].lastWantMs >= settings.wantIntervalMs
        {
            entries[slot].windows[position].lastWantMs = nowMs
            wants.append(EscrowWant(ledger: .window(keyID: keyID, limit: limit.name, windowMs: limit.windowMs), quota: limit.limit, amount: amount))
        }
        return admits
    }

    private mutating func ensureWindowSlots(slot: Int, count: Int) {
        while entries[slot].windows.count < count { entries[slot].windows.append(WindowEntry()) }
    }

    /// Creates the share on first use, and splits a default-mode share again over the live
    /// members when they changed since. The common case — the share exists and is current —
    /// reads two integers and copies nothing.
    private mutating func ensureWindow(slot: Int, position: Int, limit: RateLimit, holders recordHolders: [String]) {
        if position < entries[slot].windows.count, entries[slot].windows[position].share != nil {
            guard !limit.strict && entries[slot].windows[position].generation != liveGeneration else { return }
            let rebased = entries[slot].windows[position].share!.rebased(holders: live)
            entries[slot].windows[position].set(rebased, generation: liveGeneration, me: me)
            return
        }
        ensureWindowSlots(slot: slot, count: position + 1)
        let share = WindowShare(limit: limit.limit, holders: limit.strict ? holders(recordHolders) : live, strict: limit.strict)
        entries[slot].windows[position].set(share, generation: liveGeneration, me: me)
    }

    // MARK: Exchange

    /// The requests made since the last call.
    mutating func takeWants() -> [EscrowWant] {
        defer { wants.removeAll(keepingCapacity: true) }
        return wants
    }

    /// Answers `peer`'s request: hands over part of what this node holds and does not use.
    /// Returns this node's row of the ledger when it handed anything (to send to everyone).
    /// `ownUsage` gives this node's own sliding count of a limit position.
    mutating func handOver(
        _ want: EscrowWant, to peer: String, slot: Int, record: KeyRecord, nowMs: Int64, ownUsage: (Int, RateLimit) -> Double
    ) -> EscrowRow? {
        guard peer != me, want.amount > 0 else { return nil }
        switch want.ledger {
        case .credits:
            guard holdsCredits(want.ledger, quota: want.quota, slot: slot, record: record, nowMs: nowMs) else { return nil }
            let available = entries[slot].credits!.available(to: me)
            // Short itself (where it would ask), a node keeps what it has.
            guard available >= entries[slot].credits!.held(by: me) / 4 + 1 else { return nil }
            let half = available / 2 + available % 2
            guard entries[slot].credits!.hand(min(want.amount, half), from: me, to: peer) > 0 else { return nil }
            changedCredits.remove(slot)
            return ownCreditRow(slot: slot, record: record)
        case .window(_, let name, let windowMs):
            guard let position = record.limits.firstIndex(where: { $0.name == name && $0.windowMs == windowMs }),
                record.limits[position].limit == want.quota
            else { return nil }
            let limit = record.limits[position]
            guard escrows(limit, holders: record.holders) || limit.strict else { return nil }
            ensureWindow(slot: slot, position: position, limit: limit, holders: record.holders)
            let usage = ownUsage(position, limit)
            let handed = entries[slot].windows[position].update(me: me) { [me] share in
                share.handOver(upTo: want.amount, from: me, to: peer, ownUsage: usage)
            }
            guard handed > 0 else { return nil }
            return EscrowRow(ledger: want.ledger, quota: limit.limit, spent: 0, given: entries[slot].windows[position].share!.holdings.row(of: me))
        }
    }

    /// Takes `node`'s own row of a ledger of the key in `slot` (`node` may be this one, its
    /// rows coming back from a peer after a restart). Returns `false` when the row is not
    /// acceptable (negative values); rows on other terms are ignored (`true`).
    mutating func merge(_ row: EscrowRow, of node: String, slot: Int, record: KeyRecord, nowMs: Int64) -> Bool {
        guard row.spent >= 0, row.given.values.allSatisfy({ $0 >= 0 }) else { return false }
        switch row.ledger {
        case .credits:
            guard holdsCredits(row.ledger, quota: row.quota, slot: slot, record: record, nowMs: nowMs) else { return true }
            entries[slot].credits!.merge(rowsOf: node, spent: row.spent, given: row.given)
            if node == me { changedCredits.insert(slot) }
        case .window(_, let name, let windowMs):
            guard let position = record.limits.firstIndex(where: { $0.name == name && $0.windowMs == windowMs }),
                record.limits[position].limit == row.quota
            else { return true }
            ensureWindow(slot: slot, position: position, limit: record.limits[position], holders: record.holders)
            entries[slot].windows[position].update(me: me) { share in share.merge(rowOf: node, row.given) }
        }
        return true
    }

    private func ownCreditRow(slot: Int, record: KeyRecord) -> EscrowRow? {
        guard let escrow = entries[slot].credits, let ledger = entries[slot].creditsLedger else { return nil }
        let rows = escrow.rows(of: me)
        return EscrowRow(ledger: ledger, quota: escrow.quota, spent: rows.spent, given: rows.given)
    }

    /// This node's credit rows that changed (spent) since the last call, so peers report the
    /// same remaining credits.
    mutating func takeChangedCreditRows(records: (Int) -> KeyRecord) -> [EscrowRow] {
        defer { changedCredits.removeAll(keepingCapacity: true) }
        return changedCredits.sorted().compactMap { ownCreditRow(slot: $0, record: records($0)) }
    }

    /// `node`'s rows of every ledger in `slots` (this node's own, to a peer whose stream came
    /// up; or a peer's, to give it back after its restart).
    func rows(of node: String, inSlots range: Range<Int>, records: (Int) -> KeyRecord) -> [EscrowRow] {
        var rows: [EscrowRow] = []
        for slot in range.clamped(to: entries.indices) where entries.hasEntry(slot) {
            let entry = entries[slot]
            if let escrow = entry.credits, let ledger = entry.creditsLedger {
                let row = escrow.rows(of: node)
                if row.spent > 0 || !row.given.isEmpty {
                    rows.append(EscrowRow(ledger: ledger, quota: escrow.quota, spent: row.spent, given: row.given))
                }
            }
            guard !entry.windows.isEmpty else { continue }
            let record = records(slot)
            for (position, window) in entry.windows.enumerated() {
                guard let share = window.share, position < record.limits.count else { continue }
                let given = share.holdings.row(of: node)
                guard !given.isEmpty else { continue }
                let limit = record.limits[position]
                rows.append(EscrowRow(ledger: .window(keyID: record.id, limit: limit.name, windowMs: limit.windowMs), quota: share.limit, spent: 0, given: given))
            }
        }
        return rows
    }
}

/// Usage counted against a key's credits since the quota was last set: what this node spent
/// and handed to each peer in that epoch (its own escrow rows).
public struct CreditUsage: Sendable, Hashable {
    public var epoch: HybridTimestamp
    public var used: Int64
    public var given: [String: Int64]

    /// The refill period the usage was counted in (0 for a quota that does not refill).
    public var period: Int64

    public init(epoch: HybridTimestamp, used: Int64, given: [String: Int64] = [:], period: Int64 = 0) {
        self.epoch = epoch
        self.used = used
        self.given = given
        self.period = period
    }
}

extension KeyRecord {
    /// The write that set the quota, which usage is counted against. Records written before
    /// `credits_set_at` existed count from their version.
    var creditsEpoch: HybridTimestamp { creditsSetAt ?? version }

    /// What a credit ledger is bound to: a new epoch or quota starts a new one.
    fileprivate var creditsLedgerTerms: [String] {
        [creditsEpoch.description, credits.map { "\($0)" } ?? "-", refill.map { "\($0.amount)/\($0.interval.rawValue)" } ?? "-"] + holders
    }
}
