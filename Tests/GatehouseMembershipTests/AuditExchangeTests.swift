import GatehouseCore
import GatehouseMembership
import Testing

/// An audit trail by hand: entries by id, summarised like the node's.
struct FakeAuditIndex: ReplicaIndexView {
    var entries: [String: AuditEntry] = [:]

    func digest() -> ReplicaDigest { ReplicaDigest() }
    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] { [] }
    func records(ids: [String]) -> [KeyRecord] { [] }
    func counterSlots(heldFor node: NodeID) -> [CounterSlot] { [] }
    func ownCounterSlots() -> [CounterSlot] { [] }
    func escrowRows(heldFor node: NodeID) -> [EscrowRow] { [] }
    func ownEscrowRows() -> [EscrowRow] { [] }

    func auditDigest() -> AuditDigest {
        var digest = AuditDigest()
        for entry in entries.values { digest.add(atMs: entry.atMs, fingerprint: AuditDigest.fingerprint(ofID: entry.id)) }
        return digest
    }

    /// What the shell reads for `sendAuditEntries`.
    func entries(inHours hours: [Int64], limit: Int) -> [AuditEntry] {
        Array(entries.values.filter { hours.contains(AuditDigest.hour(ofMs: $0.atMs)) }.sorted { $0.id < $1.id }.prefix(limit))
    }

    mutating func apply(_ directives: [ReplicationDirective]) {
        for case .applyAudit(let new, _) in directives {
            for entry in new { entries[entry.id] = entry }
        }
    }
}

@Suite("Audit exchange")
struct AuditExchangeTests {
    static func entry(atMs: Int64, node: String) -> AuditEntry {
        var random = SystemRandomNumberGenerator()
        return AuditEntry(
            id: AuditEntry.makeID(atMs: atMs, using: &random), atMs: atMs, node: node, actor: "admin", source: "127.0.0.1", requestID: "r1",
            action: .keyCreate, keyID: "key_1", changes: [AuditChange(field: "owner", before: nil, after: "acct")])
    }

    static let (a, b) = (NodeID("a"), NodeID("b"))
    static let t0: Int64 = 1_800_000_000_000

    /// Two members that know each other, with empty trails.
    static func pair() -> ([NodeID: ReplicationMachine], [NodeID: FakeAuditIndex]) {
        var machines = [a: ReplicationMachine(me: a, seed: 1), b: ReplicationMachine(me: b, seed: 2)]
        machines[a]!.onMembers([b])
        machines[b]!.onMembers([a])
        return (machines, [a: FakeAuditIndex(), b: FakeAuditIndex()])
    }

    /// Delivers every message `directives` send, between the two, until none is left.
    static func run(_ start: [ReplicationDirective], machines: [NodeID: ReplicationMachine], indexes: inout [NodeID: FakeAuditIndex], from: NodeID) -> Int {
        var machines = machines
        var queue: [(DataMessage, from: NodeID, to: NodeID)] = start.sent.map { ($0.message, from, $0.to) }
        var delivered = 0
        while !queue.isEmpty {
            let (message, sender, receiver) = queue.removeFirst()
            delivered += 1
            let directives = machines[receiver]!.onMessage(message, from: sender, index: indexes[receiver]!)
            indexes[receiver]!.apply(directives)
            for directive in directives {
                switch directive {
                case .send(let reply, let to):
                    queue.append((reply, receiver, to))
                case .sendAuditEntries(let hours, let limit, let to, let then):
                    let read = indexes[receiver]!.entries(inHours: hours, limit: limit)
                    queue += ReplicationMachine.auditMessages(read).map { ($0, receiver, to) }
                    if let then { queue.append((then, receiver, to)) }
                default:
                    break
                }
            }
        }
        return delivered
    }

    @Test func twoTrailsConvergeToTheirUnionInOneRound() {
        let (a, b, t0) = (Self.a, Self.b, Self.t0)
        var (machines, indexes) = Self.pair()
        let shared = Self.entry(atMs: t0, node: "a")
        indexes[a]!.entries[shared.id] = shared
        indexes[b]!.entries[shared.id] = shared
        for hour in 0..<3 {
            let onlyA = Self.entry(atMs: t0 + Int64(hour) * 3_600_000, node: "a")
            let onlyB = Self.entry(atMs: t0 + Int64(hour) * 3_600_000 + 5, node: "b")
            indexes[a]!.entries[onlyA.id] = onlyA
            indexes[b]!.entries[onlyB.id] = onlyB
        }
        _ = Self.run(machines[a]!.onStreamConnected(b, index: indexes[a]!), machines: machines, indexes: &indexes, from: a)
        #expect(indexes[a]!.entries == indexes[b]!.entries)
        #expect(indexes[a]!.entries.count == 7)
        // Agreeing trails exchange one summary and nothing else.
        let quiet = Self.run(machines[a]!.onAntiEntropyTimer(index: indexes[a]!), machines: machines, indexes: &indexes, from: a)
        #expect(quiet == 3, "the key digest and its answer, and the audit digest answered by nothing")
    }

    /// A node without entries starts no round; one that holds some brings it what it lacks.
    @Test func anEmptyTrailIsFilledByTheRoundItsPeerStarts() {
        let a = NodeID("a"), b = NodeID("b")
        var machines = [a: ReplicationMachine(me: a, seed: 1), b: ReplicationMachine(me: b, seed: 2)]
        machines[a]!.onMembers([b])
        machines[b]!.onMembers([a])
        var indexes = [a: FakeAuditIndex(), b: FakeAuditIndex()]
        let held = Self.entry(atMs: 1_800_000_000_000, node: "b")
        indexes[b]!.entries[held.id] = held
        let fromEmpty = machines[a]!.onStreamConnected(b, index: indexes[a]!).sent.map(\.message)
        #expect(!fromEmpty.contains { if case .auditDigest = $0 { true } else { false } })
        _ = Self.run(machines[b]!.onStreamConnected(a, index: indexes[b]!), machines: machines, indexes: &indexes, from: b)
        #expect(indexes[a]!.entries == indexes[b]!.entries)
    }

    @Test func hoursBeforeEitherSummaryStartsAreNotCompared() {
        var old = AuditDigest()
        old.add(atMs: 0, fingerprint: 1)
        old.add(atMs: 10 * AuditDigest.bucketMs, fingerprint: 2)
        var recent = AuditDigest()
        recent.add(atMs: 10 * AuditDigest.bucketMs, fingerprint: 2)
        #expect(old.differingHours(from: recent) == [0])
        #expect(old.differingHours(from: recent.from(hour: 5)).isEmpty)
        #expect(old.newest(1).differingHours(from: recent).isEmpty)
    }

    @Test func aLocalEntryGoesToEveryLiveMemberInFrameSizedMessages() {
        var machine = ReplicationMachine(me: NodeID("a"), seed: 1)
        machine.onMembers([NodeID("b"), NodeID("c")])
        let entries = (0..<100).map { _ in Self.entry(atMs: 1, node: "a") }
        let sent = machine.onLocalAudit(entries).sent
        #expect(sent.count == 2 * 3)
        for (message, _) in sent {
            guard case .auditEntries(let chunk) = message else { Issue.record("not audit entries"); continue }
            #expect(chunk.count <= ReplicationMachine.auditEntriesPerMessage)
        }
    }

    /// An hour still being written on a node (an import's entries streaming to every member)
    /// is not exchanged by that node until a round finds it unchanged: comparing it would
    /// send the whole hour both ways every round while the stream delivers it anyway.
    @Test func anHourStillChangingIsExchangedOnlyOnceItSettles() {
        let (a, b, t0) = (Self.a, Self.b, Self.t0)
        var (machines, indexes) = Self.pair()
        let settled = Self.entry(atMs: t0 - 3_600_000, node: "a")
        indexes[a]!.entries[settled.id] = settled
        _ = machines[a]!.onAntiEntropyTimer(index: indexes[a]!)
        _ = machines[b]!.onAntiEntropyTimer(index: indexes[b]!)
        // A writes into the current hour between two of its ticks: that hour is unsettled on A.
        for minute in 0..<5 {
            let entry = Self.entry(atMs: t0 + Int64(minute) * 60_000, node: "a")
            indexes[a]!.entries[entry.id] = entry
        }
        let round = machines[a]!.onAntiEntropyTimer(index: indexes[a]!)
        #expect(machines[a]!.unsettledAuditHours == [AuditDigest.hour(ofMs: t0)])
        _ = Self.run(round, machines: machines, indexes: &indexes, from: a)
        // The settled hour went across; the one A is still writing did not (B asked, A held back).
        #expect(indexes[b]!.entries[settled.id] != nil)
        #expect(indexes[b]!.entries.count == 1)
        // A round later nothing changed on A: the hour is settled and exchanged.
        let next = machines[a]!.onAntiEntropyTimer(index: indexes[a]!)
        #expect(machines[a]!.unsettledAuditHours.isEmpty)
        _ = Self.run(next, machines: machines, indexes: &indexes, from: a)
        #expect(indexes[b]!.entries.keys.sorted() == indexes[a]!.entries.keys.sorted())
    }
}
