import GatehouseCore
import GatehouseMembership
import Testing

/// A replica index by hand: records by id, and what it holds for peers' counters.
struct FakeIndex: ReplicaIndexView {
    var held: [String: KeyRecord] = [:]
    var countersHeld: [NodeID: [CounterSlot]] = [:]
    var ownCounters: [CounterSlot] = []
    var escrowHeld: [EscrowRow] = []

    func digest() -> ReplicaDigest {
        var digest = ReplicaDigest()
        for record in held.values { digest.add(id: record.id, version: record.version) }
        return digest
    }

    func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] {
        held.values.filter { buckets.contains(ReplicaDigest.bucket(of: $0.id)) }.map { ReplicaEntry(id: $0.id, precedence: .live($0.version)) }
    }

    func records(ids: [String]) -> [KeyRecord] { ids.compactMap { held[$0] } }
    func counterSlots(heldFor node: NodeID) -> [CounterSlot] { countersHeld[node] ?? [] }
    func ownCounterSlots() -> [CounterSlot] { ownCounters }
    func escrowRows(heldFor node: NodeID) -> [EscrowRow] { escrowHeld }
    func ownEscrowRows() -> [EscrowRow] { [] }

    mutating func apply(_ directives: [ReplicationDirective]) {
        for case .apply(let records, _, _) in directives {
            for record in records where (held[record.id]?.version ?? .zero) < record.version { held[record.id] = record }
        }
    }
}

extension Array where Element == ReplicationDirective {
    var sent: [(message: DataMessage, to: NodeID)] {
        compactMap { if case .send(let message, let to) = $0 { (message, to) } else { nil } }
    }
}

@Suite("Replication machine")
struct ReplicationMachineTests {
    static let n1 = NodeID("n1"), n2 = NodeID("n2"), n3 = NodeID("n3")

    static func machine(_ me: NodeID, members: [NodeID], settings: ReplicationMachine.Settings = .init()) -> ReplicationMachine {
        var machine = ReplicationMachine(me: me, settings: settings, seed: 42)
        machine.onMembers(members)
        return machine
    }

    @Test func aLocalWriteGoesToEveryLiveMemberButItself() {
        let machine = Self.machine(Self.n1, members: [Self.n1, Self.n2, Self.n3])
        let record = DataStreamOutboxTests.record("key_a", wallMs: 1)
        let sent = machine.onLocalWrite([record]).sent
        #expect(Set(sent.map(\.to)) == [Self.n2, Self.n3])
        #expect(sent.allSatisfy { $0.message == .records([record]) })
    }

    @Test func fourOneWayStepsReconcileTwoReplicas() {
        var a = Self.machine(Self.n1, members: [Self.n2])
        var b = Self.machine(Self.n2, members: [Self.n1])
        var indexA = FakeIndex()
        var indexB = FakeIndex()
        for index in 0..<20 { indexA.held["key_a\(index)"] = DataStreamOutboxTests.record("key_a\(index)", wallMs: 5) }
        for index in 0..<20 { indexB.held["key_b\(index)"] = DataStreamOutboxTests.record("key_b\(index)", wallMs: 5) }
        indexA.held["key_both"] = DataStreamOutboxTests.record("key_both", wallMs: 1)
        indexB.held["key_both"] = DataStreamOutboxTests.record("key_both", wallMs: 2)

        let digest = a.onAntiEntropyTimer(index: indexA).sent
        #expect(digest.count == 1 && digest[0].to == Self.n2)
        let reply = b.onMessage(digest[0].message, from: Self.n1, index: indexB).sent
        #expect(reply.count == 1 && reply[0].to == Self.n1)
        let stepThree = a.onMessage(reply[0].message, from: Self.n2, index: indexA)
        #expect(stepThree.contains { if case .antiEntropyAnswered(let by, _) = $0 { by == Self.n2 } else { false } })
        let push = stepThree.sent
        #expect(push.count == 1)
        let stepFour = b.onMessage(push[0].message, from: Self.n1, index: indexB)
        indexB.apply(stepFour)
        for (message, to) in stepFour.sent {
            #expect(to == Self.n1)
            indexA.apply(a.onMessage(message, from: Self.n2, index: indexA))
        }
        #expect(indexA.digest() == indexB.digest())
        #expect(indexA.held["key_both"]?.version.wallMs == 2)
        #expect(indexA.held.count == 41)
    }

    @Test func aDigestIsAnsweredEvenWhenNothingDiffers() {
        var a = Self.machine(Self.n1, members: [Self.n2])
        let index = FakeIndex(held: ["key_a": DataStreamOutboxTests.record("key_a", wallMs: 1)])
        let answer = a.onMessage(.digest(index.digest()), from: Self.n2, index: index).sent
        #expect(answer.map(\.message) == [.digestReply(buckets: [], entries: [])])
    }

    @Test func bucketsOutOfRangeFromAPeerAreIgnored() {
        var a = Self.machine(Self.n1, members: [Self.n2])
        _ = a.onAntiEntropyTimer(index: FakeIndex())
        let directives = a.onMessage(.digestReply(buckets: [-1, 100_000], entries: []), from: Self.n2, index: FakeIndex())
        #expect(directives.sent.isEmpty)
    }

    @Test func countersGoToEveryMemberInASmallCluster() {
        var machine = Self.machine(Self.n1, members: [Self.n2, Self.n3])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        let sent = machine.onCounterTick(ownChanges: [slot], retransmitLimit: 4).sent
        #expect(Set(sent.map(\.to)) == [Self.n2, Self.n3])
        #expect(sent.allSatisfy { $0.message == .counters(origin: Self.n1, slots: [slot]) })
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 4).isEmpty)
    }

    @Test func ourOwnCountsRelayedBackAreIgnoredAndOthersAreMerged() {
        var machine = Self.machine(Self.n1, members: [Self.n2])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        #expect(machine.onMessage(.counters(origin: Self.n1, slots: [slot]), from: Self.n2, index: FakeIndex()).isEmpty)
        #expect(machine.onMessage(.counters(origin: Self.n2, slots: [slot]), from: Self.n2, index: FakeIndex())
            == [.mergeCounters([slot], origin: Self.n2, from: Self.n2)])
    }

    @Test func beyondTheDirectLimitCountsSpreadByFanOutAndRelays() {
        let members = (1...30).map { NodeID("n\($0)") }
        var machine = Self.machine(Self.n1, members: members, settings: .init(directLimit: 16, fanout: 3))
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        let first = machine.onCounterTick(ownChanges: [slot], retransmitLimit: 2).sent
        #expect(first.count == 3)
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 2).sent.count == 3)
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 2).isEmpty)
        // News from another member is relayed, never back to its origin.
        machine.onCounterNews([slot], origin: NodeID("n7"))
        for _ in 0..<2 {
            let relayed = machine.onCounterTick(ownChanges: [], retransmitLimit: 2).sent
            #expect(!relayed.isEmpty && relayed.allSatisfy { $0.to != NodeID("n7") })
        }
        #expect(machine.pendingRelays == 0)
    }

    @Test func aRestartedMemberAsksEveryoneForItsCountsAndGetsThemBack() {
        var machine = Self.machine(Self.n1, members: [Self.n2, Self.n3])
        machine.onStartRecovery()
        #expect(Set(machine.onCounterTick(ownChanges: [], retransmitLimit: 1).sent.map(\.to)) == [Self.n2, Self.n3])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        var other = Self.machine(Self.n2, members: [Self.n1])
        let answer = other.onMessage(.countersRequest, from: Self.n1, index: FakeIndex(countersHeld: [Self.n1: [slot]])).sent
        #expect(answer.map(\.message) == [.countersReply(slots: [slot])])
        #expect(machine.onMessage(answer[0].message, from: Self.n2, index: FakeIndex()) == [.restoreOwnCounters([slot])])
        // A member holding nothing for us still answers (empty), so the asker can stop asking.
        let empty = other.onMessage(.countersRequest, from: Self.n3, index: FakeIndex()).sent
        #expect(empty.map(\.message) == [.countersReply(slots: [])])
        #expect(machine.onMessage(empty[0].message, from: Self.n3, index: FakeIndex()).isEmpty)
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 1) == [.counterRecoveryFinished(answered: [Self.n2, Self.n3], unanswered: [])])
        #expect(machine.recovery == nil)
    }

    /// While recovering, own counts go only to members that have answered (a stream that
    /// comes up to another gets none); a member gets them whole with its answer; and an
    /// answer that comes after the recovery ended restores nothing: restored counts are added
    /// to those since the start, so a second helping would count them twice.
    @Test func ownCountsGoOnlyToMembersThatAnsweredAndLateAnswersAreDropped() {
        var machine = Self.machine(Self.n1, members: [Self.n2, Self.n3])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        let held = FakeIndex(ownCounters: [slot])
        #expect(!machine.isRecoveringCounts)
        machine.onStartRecovery()
        #expect(machine.isRecoveringCounts)
        #expect(machine.onStreamConnected(Self.n2, index: held).sent.map(\.message) == [.digest(ReplicaDigest())])
        #expect(Set(machine.onCounterTick(ownChanges: [slot], retransmitLimit: 1).sent.map(\.message)) == [.countersRequest])
        let answer = machine.onMessage(.countersReply(slots: [slot]), from: Self.n2, index: held)
        #expect(answer == [.restoreOwnCounters([slot]), .send(.counters(origin: Self.n1, slots: [slot]), to: Self.n2)])
        let sends = machine.onCounterTick(ownChanges: [slot], retransmitLimit: 1).sent
        #expect(sends.map(\.to) == [Self.n2], "n3 has not answered: it gets no counts")
        _ = machine.onMessage(.countersReply(slots: []), from: Self.n3, index: FakeIndex())
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 1) == [.counterRecoveryFinished(answered: [Self.n2, Self.n3], unanswered: [])])
        #expect(!machine.isRecoveringCounts)
        #expect(machine.onMessage(.countersReply(slots: [slot]), from: Self.n2, index: FakeIndex()).isEmpty)
        #expect(machine.onStreamConnected(Self.n3, index: held).sent.count == 2)
        #expect(Set(machine.onCounterTick(ownChanges: [slot], retransmitLimit: 1).sent.map(\.to)) == [Self.n2, Self.n3])
    }

    /// A member that has not taken the restarted node back as live drops its answer: the
    /// node asks it again (only it) until it answers.
    @Test func aRestartedMemberAsksAgainThoseThatDidNotAnswer() {
        var settings = ReplicationMachine.Settings()
        settings.recoveryTicksBetweenAsks = 3
        settings.recoveryMaxTicks = 10
        var machine = ReplicationMachine(me: Self.n1, settings: settings, seed: 1)
        machine.onMembers([Self.n2, Self.n3])
        machine.onStartRecovery()
        func asked() -> [NodeID] { machine.onCounterTick(ownChanges: [], retransmitLimit: 1).sent.map(\.to) }
        #expect(asked() == [Self.n2, Self.n3])
        _ = machine.onMessage(.countersReply(slots: []), from: Self.n2, index: FakeIndex())
        #expect(asked().isEmpty)
        #expect(asked().isEmpty)
        #expect(asked() == [Self.n3])
        #expect(asked().isEmpty)
        #expect(asked().isEmpty)
        #expect(asked() == [Self.n3])
        #expect(asked().isEmpty)
        #expect(asked().isEmpty)
        #expect(asked() == [Self.n3])
        // Ten ticks after the first request it gives up on n3, and says so.
        #expect(machine.onCounterTick(ownChanges: [], retransmitLimit: 1) == [.counterRecoveryFinished(answered: [Self.n2], unanswered: [Self.n3])])
        #expect(machine.recovery == nil)
    }

    /// Alone, a started node has nobody to ask and does not count time against its recovery:
    /// ticks alone never end it, and the member it sees first is asked.
    @Test func aStartedNodeAloneWaitsForAMemberToAsk() {
        var recovery = CounterRecovery(ticksBetweenAsks: 1, maxTicks: 2)
        for _ in 0..<5 { #expect(recovery.onTick(live: []) == .wait) }
        #expect(recovery.onTick(live: [Self.n2]) == .ask([Self.n2]))
        #expect(recovery.onTick(live: [Self.n2]) == .ask([Self.n2]))
        #expect(recovery.onTick(live: [Self.n2]) == .finished(answered: [], unanswered: [Self.n2]))
    }

    /// The recovery's pace is in time, not ticks: a request every second for half a minute.
    @Test func recoveryTicksFollowTheCounterTick() {
        var settings = ReplicationMachine.Settings()
        settings.recoveryTicks(tickMs: 1_000)
        #expect(settings.recoveryTicksBetweenAsks == 1 && settings.recoveryMaxTicks == 30)
        settings.recoveryTicks(tickMs: 50)
        #expect(settings.recoveryTicksBetweenAsks == 20 && settings.recoveryMaxTicks == 600)
        settings.recoveryTicks(tickMs: 0)
        #expect(settings.recoveryTicksBetweenAsks == 1_000 && settings.recoveryMaxTicks == 30_000)
    }

    /// The escrow rows a peer kept for us go before the counts: the counts' short last part
    /// ends the whole answer, so on one stream the rows have arrived when it does.
    @Test func anAnswerEndsWithTheShortPartOfTheCounts() {
        var other = Self.machine(Self.n2, members: [Self.n1])
        let row = EscrowRow(ledger: .credits(keyID: "key_a", epoch: .zero, period: 0), quota: 10, spent: 1, given: [:])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        let answer = other.onMessage(.countersRequest, from: Self.n1, index: FakeIndex(countersHeld: [Self.n1: [slot]], escrowHeld: [row])).sent
        #expect(answer.map(\.message) == [.escrowRestore([row]), .countersReply(slots: [slot])])
    }

    /// A peer that kept more of our windows than one frame holds answers in several replies;
    /// the last is always short (empty when the slots fill the others exactly), and only it
    /// tells the asker the answer is complete.
    @Test(arguments: [0, 1, ReplicationMachine.slotsPerCountersReply, ReplicationMachine.slotsPerCountersReply * 2 + 1])
    func manySlotsAreGivenBackInRepliesThatFitAFrame(count: Int) {
        var other = Self.machine(Self.n2, members: [Self.n1])
        let many = (0..<count).map { DataStreamOutboxTests.slot("key_\($0)", window: 3, count: 1) }
        let replies = other.onMessage(.countersRequest, from: Self.n1, index: FakeIndex(countersHeld: [Self.n1: many])).sent.map(\.message)
        #expect(replies.count == count / ReplicationMachine.slotsPerCountersReply + 1)
        var given: [CounterSlot] = []
        var asker = Self.machine(Self.n1, members: [Self.n2])
        asker.onStartRecovery()
        _ = asker.onCounterTick(ownChanges: [], retransmitLimit: 1)
        for (position, reply) in replies.enumerated() {
            guard case .countersReply(let slots) = reply else { continue }
            #expect(slots.count <= ReplicationMachine.slotsPerCountersReply)
            #expect(ReplicationMachine.endsCountersReply(slotCount: slots.count) == (position == replies.count - 1))
            given += slots
            _ = asker.onMessage(reply, from: Self.n2, index: FakeIndex())
            #expect((asker.recovery?.answered.contains(Self.n2) ?? false) == (position == replies.count - 1))
        }
        #expect(given == many)
    }

    /// Counts go out only when they change, so one lost with a broken stream's buffers
    /// would stay lost: a stream that comes up gets our own slots again with the digest.
    @Test func aStreamThatComesUpGetsTheDigestAndOurOwnCounts() {
        let machine = Self.machine(Self.n1, members: [Self.n2])
        let slot = DataStreamOutboxTests.slot("key_a", window: 3, count: 7)
        let sent = machine.onStreamConnected(Self.n2, index: FakeIndex(ownCounters: [slot])).sent
        #expect(sent.map(\.to) == [Self.n2, Self.n2])
        #expect(sent.map(\.message) == [.digest(ReplicaDigest()), .counters(origin: Self.n1, slots: [slot])])
        #expect(machine.onStreamConnected(Self.n2, index: FakeIndex()).sent.map(\.message) == [.digest(ReplicaDigest())])
    }
}
