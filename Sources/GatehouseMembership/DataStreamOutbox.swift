import GatehouseCore

/// What waits to be written on one peer's data stream: a queue that coalesces instead of
/// growing with the load.
///
/// - Records are kept by id: a newer version of a pending record replaces the older one.
/// - Counter slots are kept by (origin, bucket, window): a slot carries a whole count, so
///   the newer (larger) count replaces the pending one and only the latest state is sent.
/// - Escrow rows are kept by ledger: rows only grow, so the pending row and a newer one merge
///   into one (the larger of each value); requests for more are kept by ledger (the larger).
/// - Anti-entropy and recovery messages are few and kept in order.
///
/// Every part is bounded. Past a bound the oldest pending entry is dropped and counted in
/// `dropped`: a dropped record is repaired by anti-entropy, a dropped slot by the next count
/// of the same window. So a slow peer costs this node a fixed amount of memory, never more.
public struct DataStreamOutbox: Sendable {
    public struct Limits: Hashable, Sendable {
        public var maxRecords: Int
        public var maxSlots: Int
        public var maxControlMessages: Int
        /// Audit entries pending at most (kept by id).
        public var maxAuditEntries: Int = 20_000
        /// Most records and slots handed out per `takeBatch`, so one frame stays small.
        public var recordsPerBatch: Int
        public var slotsPerBatch: Int

        public init(maxRecords: Int = 20_000, maxSlots: Int = 200_000, maxControlMessages: Int = 64, recordsPerBatch: Int = 256, slotsPerBatch: Int = 2_048) {
            self.maxRecords = maxRecords
            self.maxSlots = maxSlots
            self.maxControlMessages = maxControlMessages
            self.recordsPerBatch = recordsPerBatch
            self.slotsPerBatch = slotsPerBatch
        }
    }

    struct SlotKey: Hashable, Sendable {
        var origin: NodeID
        var bucket: CounterBucket
        var windowIndex: Int64
    }

    public let limits: Limits
    private var records: [String: KeyRecord] = [:]
    private var recordOrder = FIFOKeys<String>()
    private var slots: [SlotKey: Int64] = [:]
    private var slotOrder = FIFOKeys<SlotKey>()
    private var escrowRows: [EscrowKey: EscrowRow] = [:]
    private var escrowRowOrder = FIFOKeys<EscrowKey>()
    private var escrowWants: [EscrowKey: EscrowWant] = [:]
    private var escrowWantOrder = FIFOKeys<EscrowKey>()
    private var auditEntries: [String: AuditEntry] = [:]
    private var auditOrder = FIFOKeys<String>()
    private var control: [DataMessage] = []
    /// A restarted peer's own escrow rows and counts, given back (`escrowRestore` then
    /// `countersReply` parts, in order). Never dropped: the peer stops asking at the last
    /// part and misses what did not come. A complete answer still pending is replaced by a
    /// newer one (it holds everything the older did, or more), so a peer asking again while
    /// the link is slow costs no memory.
    private var recoveryAnswers: [DataMessage] = []
    /// Entries dropped because a bound was reached.
    public private(set) var dropped = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    struct EscrowKey: Hashable, Sendable {
        var ledger: EscrowLedger
        var quota: Int64
    }

    public var isEmpty: Bool {
        records.isEmpty && slots.isEmpty && control.isEmpty && escrowRows.isEmpty && escrowWants.isEmpty && auditEntries.isEmpty
            && recoveryAnswers.isEmpty
    }
    public var pendingAuditEntries: Int { auditEntries.count }

    /// Audit entries, kept by id (a repeat is one entry); past the bound the oldest is
    /// dropped, for audit anti-entropy to repair.
    public mutating func enqueue(auditEntries newEntries: [AuditEntry]) {
        for entry in newEntries where auditEntries[entry.id] == nil {
            if auditEntries.count >= limits.maxAuditEntries, let oldest = auditOrder.popFirst(present: { auditEntries[$0] != nil }) {
                auditEntries[oldest] = nil
                dropped += 1
            }
            auditEntries[entry.id] = entry
            auditOrder.append(entry.id)
        }
    }
    public var pendingRecords: Int { records.count }
    public var pendingSlots: Int { slots.count }

    public mutating func enqueue(records newRecords: [KeyRecord]) {
        for record in newRecords {
            if let held = records[record.id] {
                if record.precedence > held.precedence { records[record.id] = record }
                continue
            }
            if records.count >= limits.maxRecords, let oldest = recordOrder.popFirst(present: { records[$0] != nil }) {
                records[oldest] = nil
                dropped += 1
            }
            records[record.id] = record
            recordOrder.append(record.id)
        }
    }

    public mutating func enqueue(counters newSlots: [CounterSlot], origin: NodeID) {
        for slot in newSlots {
            let key = SlotKey(origin: origin, bucket: slot.bucket, windowIndex: slot.windowIndex)
            if let held = slots[key] {
                if slot.count > held { slots[key] = slot.count }
                continue
            }
            if slots.count >= limits.maxSlots, let oldest = slotOrder.popFirst(present: { slots[$0] != nil }) {
                slots[oldest] = nil
                dropped += 1
            }
            slots[key] = slot.count
            slotOrder.append(key)
        }
    }

    /// Escrow rows (this node's own): merged with a pending row of the same ledger.
    public mutating func enqueue(escrowRows newRows: [EscrowRow]) {
        for row in newRows {
            let key = EscrowKey(ledger: row.ledger, quota: row.quota)
            if var held = escrowRows[key] {
                held.spent = max(held.spent, row.spent)
                held.given.merge(row.given, uniquingKeysWith: max)
                escrowRows[key] = held
                continue
            }
            if escrowRows.count >= limits.maxSlots, let oldest = escrowRowOrder.popFirst(present: { escrowRows[$0] != nil }) {
                escrowRows[oldest] = nil
                dropped += 1
            }
            escrowRows[key] = row
            escrowRowOrder.append(key)
        }
    }

    /// Requests for more: the larger of a pending and a new request for the same ledger.
    public mutating func enqueue(escrowWants newWants: [EscrowWant]) {
        for want in newWants {
            let key = EscrowKey(ledger: want.ledger, quota: want.quota)
            if let held = escrowWants[key] {
                if want.amount > held.amount { escrowWants[key] = want }
                continue
            }
            if escrowWants.count >= limits.maxSlots, let oldest = escrowWantOrder.popFirst(present: { escrowWants[$0] != nil }) {
                escrowWants[oldest] = nil
                dropped += 1
            }
            escrowWants[key] = want
            escrowWantOrder.append(key)
        }
    }

    /// Whether `message` may go to a stream that can take it now without passing through
    /// the outbox: nothing is pending (so nothing is reordered, and there is nothing to
    /// coalesce it with) and it is no larger than one batch. Coalescing costs a hash of every
    /// slot's key id and limit name going in and again coming out, which at ten thousand hot
    /// keys was over a quarter of the data plane's CPU (bench/README), spent on a queue that stays empty while the
    /// peer keeps up. Only the kinds the outbox coalesces pass; the others keep their order
    /// through it.
    public func canPassStraight(_ message: DataMessage) -> Bool {
        guard isEmpty else { return false }
        switch message {
        case .records(let records): return records.count <= limits.recordsPerBatch
        case .counters(_, let slots): return slots.count <= limits.slotsPerBatch
        case .escrowRows(let rows): return rows.count <= limits.slotsPerBatch / 4
        case .escrowWants(let wants): return wants.count <= limits.slotsPerBatch
        default: return false
        }
    }

    /// Anything else (anti-entropy steps, counter recovery), in order.
    public mutating func enqueue(_ message: DataMessage) {
        switch message {
        case .records(let records):
            enqueue(records: records)
        case .counters(let origin, let slots):
            enqueue(counters: slots, origin: origin)
        case .escrowRows(let rows):
            enqueue(escrowRows: rows)
        case .escrowWants(let wants):
            enqueue(escrowWants: wants)
        case .auditEntries(let entries):
            enqueue(auditEntries: entries)
        case .recordsAndWant(let records, let want) where !records.isEmpty:
            // The records go the way of every record (coalesced, batched by size); the
            // request for the others stays in order with the anti-entropy steps.
            enqueue(records: records)
            enqueue(.recordsAndWant(records: [], want: want))
        case .countersReply, .escrowRestore:
            if case .countersReply(let pending) = recoveryAnswers.last, ReplicationMachine.endsCountersReply(slotCount: pending.count) {
                recoveryAnswers.removeAll()
            }
            recoveryAnswers.append(message)
        default:
            if control.count >= limits.maxControlMessages {
                control.removeFirst()
                dropped += 1
            }
            control.append(message)
        }
    }

    /// The next messages to write, oldest first: requests for escrow and escrow rows (a
    /// refusal may be waiting on them), control messages, one part of a recovery answer, then up to a batch of records,
    /// then up to a batch of slots grouped by origin. Empty when nothing waits.
    public mutating func takeBatch() -> [DataMessage] {
        var batch: [DataMessage] = []
        var wants: [EscrowWant] = []
        while wants.count < limits.slotsPerBatch, let key = escrowWantOrder.popFirst(present: { escrowWants[$0] != nil }) {
            wants.append(escrowWants.removeValue(forKey: key)!)
        }
        if !wants.isEmpty { batch.append(.escrowWants(wants)) }
        var rows: [EscrowRow] = []
        while rows.count < limits.slotsPerBatch / 4, let key = escrowRowOrder.popFirst(present: { escrowRows[$0] != nil }) {
            rows.append(escrowRows.removeValue(forKey: key)!)
        }
        if !rows.isEmpty { batch.append(.escrowRows(rows)) }
        batch += control
        control.removeAll(keepingCapacity: true)
        if !recoveryAnswers.isEmpty { batch.append(recoveryAnswers.removeFirst()) }
        var taken: [KeyRecord] = []
        while taken.count < limits.recordsPerBatch, let id = recordOrder.popFirst(present: { records[$0] != nil }) {
            taken.append(records.removeValue(forKey: id)!)
        }
        if !taken.isEmpty { batch.append(.records(taken)) }
        var audit: [AuditEntry] = []
        while audit.count < ReplicationMachine.auditEntriesPerMessage, let id = auditOrder.popFirst(present: { auditEntries[$0] != nil }) {
            audit.append(auditEntries.removeValue(forKey: id)!)
        }
        if !audit.isEmpty { batch.append(.auditEntries(audit)) }
        var byOrigin: [NodeID: [CounterSlot]] = [:]
        var origins: [NodeID] = []
        var count = 0
        while count < limits.slotsPerBatch, let key = slotOrder.popFirst(present: { slots[$0] != nil }) {
            let value = slots.removeValue(forKey: key)!
            if byOrigin[key.origin] == nil { origins.append(key.origin) }
            byOrigin[key.origin, default: []].append(CounterSlot(bucket: key.bucket, windowIndex: key.windowIndex, count: value))
            count += 1
        }
        for origin in origins { batch.append(.counters(origin: origin, slots: byOrigin[origin]!)) }
        return batch
    }
}

/// Insertion order of keys whose values live in a dictionary beside it; entries removed
/// from the dictionary are skipped lazily, and the storage is compacted as it is consumed.
struct FIFOKeys<Key: Hashable & Sendable>: Sendable {
    private var keys: [Key] = []
    private var head = 0

    mutating func append(_ key: Key) {
        keys.append(key)
    }

    /// The oldest key for which `present` holds, removed; stale keys before it are dropped.
    mutating func popFirst(present: (Key) -> Bool) -> Key? {
        while head < keys.count {
            let key = keys[head]
            head += 1
            if head > 1_024 && head * 2 > keys.count {
                keys.removeFirst(head)
                head = 0
            }
            if present(key) { return key }
        }
        keys.removeAll(keepingCapacity: true)
        head = 0
        return nil
    }
}
