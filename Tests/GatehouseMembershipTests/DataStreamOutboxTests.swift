import GatehouseCore
import GatehouseMembership
import Testing

@Suite("Data stream outbox")
struct DataStreamOutboxTests {
    static func record(_ id: String, wallMs: Int64) -> KeyRecord {
        KeyRecord(
            id: id, lookup: LookupHasher(pepper: Array("outbox-pepper-0123456789abcdefghijkl".utf8)).hash("secret-\(id)"),
            start: "gk_", name: "v\(wallMs)", owner: "o", scopes: [], enabled: true, createdAt: 0, expiresAt: nil, limits: [],
            credits: nil, creditsSetAt: nil, meta: [:], revokedAt: nil, lastUsedAt: nil, retiredSecrets: [],
            version: HybridTimestamp(wallMs: wallMs, logical: 0, node: "n1"))
    }

    static func slot(_ key: String, window: Int64, count: Int64) -> CounterSlot {
        CounterSlot(bucket: .keyLimit(keyID: key, limit: "minute", windowMs: 60_000), windowIndex: window, count: count)
    }

    static func records(in batch: [DataMessage]) -> [KeyRecord] {
        batch.flatMap { message -> [KeyRecord] in if case .records(let records) = message { records } else { [] } }
    }

    static func slots(in batch: [DataMessage]) -> [CounterSlot] {
        batch.flatMap { message -> [CounterSlot] in if case .counters(_, let slots) = message { slots } else { [] } }
    }

    @Test func aNewerVersionOfAPendingRecordReplacesItAndAnOlderOneDoesNot() {
        var outbox = DataStreamOutbox()
        outbox.enqueue(records: [Self.record("key_a", wallMs: 2)])
        outbox.enqueue(records: [Self.record("key_a", wallMs: 3)])
        outbox.enqueue(records: [Self.record("key_a", wallMs: 1)])
        #expect(outbox.pendingRecords == 1)
        #expect(Self.records(in: outbox.takeBatch()).map(\.version.wallMs) == [3])
        #expect(outbox.isEmpty)
    }

    @Test func newerCounterStateForASlotReplacesThePendingOne() {
        var outbox = DataStreamOutbox()
        for count in [5, 9, 7] as [Int64] { outbox.enqueue(counters: [Self.slot("key_a", window: 10, count: count)], origin: NodeID("n1")) }
        outbox.enqueue(counters: [Self.slot("key_a", window: 11, count: 1)], origin: NodeID("n1"))
        outbox.enqueue(counters: [Self.slot("key_a", window: 10, count: 4)], origin: NodeID("n2"))
        #expect(outbox.pendingSlots == 3)
        let batch = outbox.takeBatch()
        let byOrigin = batch.compactMap { message -> (NodeID, [CounterSlot])? in
            if case .counters(let origin, let slots) = message { (origin, slots) } else { nil }
        }
        #expect(byOrigin.map(\.0) == [NodeID("n1"), NodeID("n2")])
        #expect(byOrigin[0].1.map(\.count) == [9, 1])
        #expect(byOrigin[1].1.map(\.count) == [4])
    }

    @Test func pendingStateIsBoundedAndTheOldestGoesFirst() {
        var outbox = DataStreamOutbox(limits: .init(maxRecords: 3, maxSlots: 2, maxControlMessages: 1))
        for index in 0..<5 { outbox.enqueue(records: [Self.record("key_\(index)", wallMs: 1)]) }
        for window in 0..<4 as Range<Int64> { outbox.enqueue(counters: [Self.slot("key_a", window: window, count: 1)], origin: NodeID("n1")) }
        outbox.enqueue(.countersRequest)
        outbox.enqueue(.digest(ReplicaDigest()))
        #expect(outbox.dropped == 2 + 2 + 1)
        let batch = outbox.takeBatch()
        #expect(Self.records(in: batch).map(\.id) == ["key_2", "key_3", "key_4"])
        #expect(Self.slots(in: batch).map(\.windowIndex) == [2, 3])
        #expect(batch.first == .digest(ReplicaDigest()))
    }

    @Test func batchesAreCutToTheirSizeAndTheRestWaitsInOrder() {
        var outbox = DataStreamOutbox(limits: .init(recordsPerBatch: 2, slotsPerBatch: 3))
        for index in 0..<5 { outbox.enqueue(records: [Self.record("key_\(index)", wallMs: 1)]) }
        for window in 0..<7 as Range<Int64> { outbox.enqueue(counters: [Self.slot("key_a", window: window, count: 1)], origin: NodeID("n1")) }
        var records: [String] = []
        var windows: [Int64] = []
        while !outbox.isEmpty {
            let batch = outbox.takeBatch()
            #expect(Self.records(in: batch).count <= 2)
            #expect(Self.slots(in: batch).count <= 3)
            records += Self.records(in: batch).map(\.id)
            windows += Self.slots(in: batch).map(\.windowIndex)
        }
        #expect(records == (0..<5).map { "key_\($0)" })
        #expect(windows == Array(0..<7))
    }

    /// A message may skip the outbox only when nothing waits before it and it fits one batch;
    /// anything else (and every kind the outbox does not coalesce) keeps its place in line.
    @Test func onlyAMessageThatOvertakesNothingAndFitsABatchPassesStraight() {
        var outbox = DataStreamOutbox(limits: .init(recordsPerBatch: 2, slotsPerBatch: 3))
        let n1 = NodeID("n1")
        let small = DataMessage.counters(origin: n1, slots: [Self.slot("key_a", window: 1, count: 1)])
        let large = DataMessage.counters(origin: n1, slots: (0..<4).map { Self.slot("key_\($0)", window: 1, count: 1) })
        #expect(outbox.canPassStraight(small))
        #expect(outbox.canPassStraight(.records([Self.record("key_a", wallMs: 1), Self.record("key_b", wallMs: 1)])))
        #expect(!outbox.canPassStraight(large))
        #expect(!outbox.canPassStraight(.records((0..<3).map { Self.record("key_\($0)", wallMs: 1) })))
        #expect(!outbox.canPassStraight(.countersRequest))
        outbox.enqueue(records: [Self.record("key_z", wallMs: 1)])
        #expect(!outbox.canPassStraight(small))
        _ = outbox.takeBatch()
        #expect(outbox.canPassStraight(small))
    }

    @Test func aRecordTakenAndQueuedAgainIsSentAgain() {
        var outbox = DataStreamOutbox()
        outbox.enqueue(records: [Self.record("key_a", wallMs: 1)])
        _ = outbox.takeBatch()
        outbox.enqueue(records: [Self.record("key_a", wallMs: 2)])
        #expect(Self.records(in: outbox.takeBatch()).map(\.version.wallMs) == [2])
    }

    @Test func anAntiEntropyAnswerSendsItsRecordsAsRecordsAndItsRequestInOrder() {
        var outbox = DataStreamOutbox()
        outbox.enqueue(.digest(ReplicaDigest()))
        outbox.enqueue(.recordsAndWant(records: [Self.record("key_a", wallMs: 1)], want: ["key_b"]))
        let batch = outbox.takeBatch()
        #expect(batch == [.digest(ReplicaDigest()), .recordsAndWant(records: [], want: ["key_b"]), .records([Self.record("key_a", wallMs: 1)])])
    }

    /// A restarted peer's escrow rows and counts given back are never dropped, however many
    /// control messages pile up beside them (the peer would stop asking at the last part and
    /// miss the rest), go one part per batch, and a complete answer still pending gives way to
    /// a newer one.
    @Test func countersRepliesAreKeptWholeAndANewerAnswerReplacesAPendingOne() {
        var outbox = DataStreamOutbox(limits: .init(maxControlMessages: 2))
        let full = (0..<ReplicationMachine.slotsPerCountersReply).map { Self.slot("key_\($0)", window: 1, count: 1) }
        let row = EscrowRow(ledger: .credits(keyID: "key_a", epoch: .zero, period: 0), quota: 10, spent: 1, given: [:])
        let older: [DataMessage] = [.escrowRestore([row]), .countersReply(slots: full), .countersReply(slots: [Self.slot("key_x", window: 1, count: 1)])]
        for message in older { outbox.enqueue(message) }
        for _ in 0..<10 { outbox.enqueue(.countersRequest) }
        #expect(outbox.dropped == 8, "control messages past their bound are dropped, the reply's parts are not")
        let newer: [DataMessage] = [.escrowRestore([row]), .countersReply(slots: full), .countersReply(slots: [Self.slot("key_x", window: 1, count: 2)])]
        for message in newer { outbox.enqueue(message) }
        var replies: [DataMessage] = []
        while !outbox.isEmpty {
            let parts = outbox.takeBatch().filter {
                switch $0 {
                case .countersReply, .escrowRestore: true
                default: false
                }
            }
            #expect(parts.count <= 1)
            replies += parts
        }
        #expect(replies == newer)
        // A part of an answer still coming is not replaced: the newer answer follows it.
        outbox.enqueue(.countersReply(slots: full))
        for message in newer { outbox.enqueue(message) }
        replies = []
        while !outbox.isEmpty { replies += outbox.takeBatch() }
        #expect(replies == [.countersReply(slots: full)] + newer)
    }
}
