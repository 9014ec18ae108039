/// Admin writes sharing durable commits (group commit).
///
/// Each write is computed and queued in version order. The first writer to find no commit
/// running leads: it takes every write queued (`takeGroup`), stores them in one transaction —
/// one sync of the disk — applies them, and `finish` hands the lead to the first write queued
/// meanwhile. Writers that queue while a commit runs wait and go together in the next group,
/// so N concurrent writers cost about two syncs instead of N.
///
/// Records written and not yet committed stay visible to the writers after them
/// (`pendingRecord`): a read-modify-write queued behind another builds on its change. So a
/// failed commit fails its group and every write queued behind it, which may build on it.
///
/// Pure: `Waiter` is whatever the caller resumes with a `WriteTurn` (continuations in
/// `KeyService`); the caller holds a lock around every call.
public struct WriteGroups<Waiter: Sendable>: Sendable {
    /// A queued write: the record and its audit entry, stored together.
    public struct Write: Sendable {
        public var record: KeyRecord
        public var audit: AuditEntry
        public let ticket: Int
    }

    private var queued: [Write] = []
    /// The newest queued or committing record of each id.
    private var pending: [String: KeyRecord] = [:]
    private var committing = false
    private var nextTicket = 0
    private var waiters: [Int: Waiter] = [:]
    /// Turns decided before their writer waited for them.
    private var decided: [Int: WriteTurn] = [:]

    public init() {}

    /// How many writes wait for a commit (not counting a group being committed).
    public var queuedCount: Int { queued.count }

    /// The newest record of `id` written and not committed yet.
    public func pendingRecord(id: String) -> KeyRecord? { pending[id] }

    /// Queues a write; `leads` is true when no commit runs, and the caller must commit now.
    public mutating func enqueue(_ record: KeyRecord, audit: AuditEntry) -> (ticket: Int, leads: Bool) {
        let ticket = nextTicket
        nextTicket += 1
        queued.append(Write(record: record, audit: audit, ticket: ticket))
        pending[record.id] = record
        guard !committing else { return (ticket, false) }
        committing = true
        return (ticket, true)
    }

    /// Every queued write, for the leader to commit as one group.
    public mutating func takeGroup() -> [Write] {
        defer { queued.removeAll(keepingCapacity: true) }
        return queued
    }

    /// The group's commit ended: its writers learn how, and the lead passes to the first
    /// write queued since (or no commit runs). A failure also fails every queued write.
    /// Returns the waiters to resume, with their turns.
    public mutating func finish(_ group: [Write], committed: Bool) -> [(Waiter, WriteTurn)] {
        var finished = group
        if !committed {
            finished += queued
            queued.removeAll()
        }
        var resumed: [(Waiter, WriteTurn)] = []
        for write in finished {
            if pending[write.record.id]?.version == write.record.version { pending[write.record.id] = nil }
            resumed += decide(write.ticket, committed ? .committed : .failed)
        }
        if let next = queued.first {
            resumed += decide(next.ticket, .lead)
        } else {
            committing = false
        }
        return resumed
    }

    /// The turn of `ticket` if it is decided (taken: asked once); otherwise `waiter` waits
    /// for it and `nil` is returned.
    public mutating func turn(of ticket: Int, orWait waiter: Waiter) -> WriteTurn? {
        if let turn = decided.removeValue(forKey: ticket) { return turn }
        waiters[ticket] = waiter
        return nil
    }

    private mutating func decide(_ ticket: Int, _ turn: WriteTurn) -> [(Waiter, WriteTurn)] {
        if let waiter = waiters.removeValue(forKey: ticket) { return [(waiter, turn)] }
        decided[ticket] = turn
        return []
    }
}

/// What a writer waiting in `WriteGroups` is told: commit the next group itself, or how its
/// write ended.
public enum WriteTurn: Equatable, Sendable {
    case lead
    case committed
    case failed
}
