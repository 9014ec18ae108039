import Foundation
import GatehouseMembership
import Testing

@Suite("Membership instance: suspicion timeouts and local health")
struct SuspicionAndAwarenessTests {
    @Test func suspicionBoundsFollowTheClusterSize() {
        let settings = MembershipSettings()
        #expect(settings.suspicionBounds(members: 5) == (4_000, 24_000))
        #expect(settings.suspicionBounds(members: 100) == (8_000, 48_000))
        #expect(settings.suspicionBounds(members: 1_000) == (12_000, 72_000))
        #expect(settings.retransmitLimit(members: 5) == 4)
        #expect(settings.retransmitLimit(members: 99) == 8)
        #expect(settings.retransmitLimit(members: 500) == 12)
    }

    /// Timeout of a fresh suspicion at N = 10: maximum 24 s; each independent confirmation
    /// shrinks it (K = 2): one → 24 − 20·log 2 / log 3 ≈ 11.38 s, two → the 4 s minimum.
    @Test func confirmationsShrinkTheSuspicionTimeout() {
        var node = MembershipInstance.make("a")
        node.know((1...9).map { "m\($0)" })
        let target = NodeID("m1")
        let start = node.onMessage(.gossip(source: NodeID("m2"), gossip: [.suspect(target, incarnation: 0, suspector: NodeID("m2"))]), nowMs: 0)
        #expect(start.timers.contains { $0.timer == .suspicion(target) && $0.afterMs == 24_000 })
        let duplicate = node.onMessage(.gossip(source: NodeID("m2"), gossip: [.suspect(target, incarnation: 0, suspector: NodeID("m2"))]), nowMs: 100)
        #expect(duplicate.timers.isEmpty)
        let one = node.onMessage(.gossip(source: NodeID("m3"), gossip: [.suspect(target, incarnation: 0, suspector: NodeID("m3"))]), nowMs: 1_000)
        let expectedOne = Int64(24_000 - 20_000 * log(2.0) / log(3.0)) - 1_000
        #expect(one.timers.contains { $0.timer == .suspicion(target) && $0.afterMs == expectedOne })
        let two = node.onMessage(.gossip(source: NodeID("m4"), gossip: [.suspect(target, incarnation: 0, suspector: NodeID("m4"))]), nowMs: 2_000)
        #expect(two.timers.contains { $0.timer == .suspicion(target) && $0.afterMs == 2_000 })
        // Early timer: not yet; at the deadline: dead.
        #expect(node.onTimer(.suspicion(target), nowMs: 3_999).changes.isEmpty)
        let verdict = node.onTimer(.suspicion(target), nowMs: 4_000).changes
        #expect(verdict.first?.member.status == .dead)
        #expect(node.stats.deathsDeclared == 1)
    }

    @Test func aRefutationCancelsTheSuspicion() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c"])
        let b = NodeID("b")
        _ = node.onMessage(.gossip(source: NodeID("c"), gossip: [.suspect(b, incarnation: 0, suspector: NodeID("c"))]), nowMs: 0)
        _ = node.onMessage(.gossip(source: b, gossip: [.alive(b, incarnation: 1, address: MembershipInstance.address("b"))]), nowMs: 500)
        #expect(node.onTimer(.suspicion(b), nowMs: 100_000).changes.isEmpty)
        #expect(node.members[b]?.status == .alive)
    }

    @Test func failedProbesWithoutNacksRaiseAwarenessAndStretchProbing() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c", "d", "e"])
        #expect(node.currentProbeInterval == 1_000)
        let sequence = node.onTimer(.probe, nowMs: 0).sends.compactMap(\.message.pingSequence).first!
        _ = node.onTimer(.probeTimeout(sequence: sequence), nowMs: 500)
        // Three helpers asked, no nack came back: our own network is suspect.
        _ = node.onTimer(.indirectProbeTimeout(sequence: sequence), nowMs: 999)
        #expect(node.awareness == 3)
        #expect(node.currentProbeInterval == 4_000)
        #expect(node.currentProbeTimeout == 2_000)
        let next = node.onTimer(.probe, nowMs: 1_000)
        #expect(next.timers.contains { $0.timer == .probe && $0.afterMs == 4_000 })
        // Successful probes bring it back down, one step each.
        let ping = next.sends.compactMap(\.message.pingSequence).first!
        _ = node.onMessage(.ack(sequence: ping, source: NodeID("x"), sentAtMs: 1_005, gossip: []), nowMs: 1_010)
        #expect(node.awareness == 2)
    }

    @Test func failedProbesWithAllNacksLeaveAwarenessAlone() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c", "d", "e"])
        let sequence = node.onTimer(.probe, nowMs: 0).sends.compactMap(\.message.pingSequence).first!
        let helpers = node.onTimer(.probeTimeout(sequence: sequence), nowMs: 500).sends.filter { $0.message.isPingRequest }
        for _ in helpers { _ = node.onMessage(.nack(sequence: sequence, source: NodeID("h")), nowMs: 900) }
        _ = node.onTimer(.indirectProbeTimeout(sequence: sequence), nowMs: 999)
        #expect(node.awareness == 0)
    }

    @Test func awarenessIsCappedBelowTheMaximum() {
        var node = MembershipInstance.make("a")
        node.know(["b"])
        for round in 0..<20 {
            _ = node.onMessage(.gossip(source: NodeID("b"), gossip: [.suspect(NodeID("a"), incarnation: node.incarnation, suspector: NodeID("b"))]), nowMs: Int64(round))
        }
        #expect(node.awareness == 7)
    }
}

@Suite("Membership instance: probing suspects")
struct ProbingSuspectsTests {
    @Test func aMemberSuspectedByOthersIsProbedNext() {
        var node = MembershipInstance.make("a")
        node.know((1...9).map { "m\($0)" })
        _ = node.onMessage(.gossip(source: NodeID("m2"), gossip: [.suspect(NodeID("m7"), incarnation: 0, suspector: NodeID("m2"))]), nowMs: 0)
        let ping = node.onTimer(.probe, nowMs: 10).sends.first { $0.message.pingSequence != nil }
        #expect(ping?.to == MembershipInstance.address("m7"))
        // And carries the suspicion, so the suspect can refute (buddy system).
        #expect(ping?.message.gossip.first == .suspect(NodeID("m7"), incarnation: 0, suspector: NodeID("a")))
    }
}
