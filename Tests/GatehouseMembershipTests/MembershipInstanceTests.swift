import GatehouseMembership
import Testing

@Suite("Membership instance: transitions")
struct MembershipInstanceTests {
    @Test func startSchedulesEveryTimer() {
        var node = MembershipInstance.make("a")
        let timers = node.onStart(nowMs: 0).timers.map(\.timer)
        #expect(Set(timers) == [.probe, .gossip, .reap, .pushPull, .reconnect])
    }

    @Test func aPingToMeIsAcked() {
        var node = MembershipInstance.make("a")
        let directives = node.onMessage(.ping(sequence: 7, target: NodeID("a"), source: NodeID("b"), sourceAddress: .init(host: "b", port: 1), gossip: []), nowMs: 0)
        let reply = directives.sends
        #expect(reply.count == 1)
        #expect(reply.first?.to == MemberAddress(host: "b", port: 1))
        guard case .ack(let sequence, let source, _, _) = reply.first?.message else {
            Issue.record("expected an ack")
            return
        }
        #expect(sequence == 7)
        #expect(source == NodeID("a"))
    }

    @Test func aPingForSomeoneElseIsIgnored() {
        var node = MembershipInstance.make("a")
        let directives = node.onMessage(.ping(sequence: 7, target: NodeID("old"), source: NodeID("b"), sourceAddress: .init(host: "b", port: 1), gossip: []), nowMs: 0)
        #expect(directives.sends.isEmpty)
    }

    @Test func probeRoundRobinVisitsEveryMemberOncePerPass() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c", "d", "e"])
        var now: Int64 = 0
        var pass: [MemberAddress] = []
        for _ in 0..<4 {
            let directives = node.onTimer(.probe, nowMs: now)
            guard let ping = directives.sends.first(where: { $0.message.pingSequence != nil }) else {
                Issue.record("no ping")
                return
            }
            pass.append(ping.to)
            _ = node.onMessage(.ack(sequence: ping.message.pingSequence!, source: NodeID("x"), sentAtMs: now + 5, gossip: []), nowMs: now + 10)
            now += 1000
        }
        #expect(Set(pass).count == 4)
    }

    @Test func noAckLeadsToIndirectProbesThenSuspicion() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c", "d", "e"])
        let probe = node.onTimer(.probe, nowMs: 0)
        let ping = probe.sends.first { $0.message.pingSequence != nil }!
        let sequence = ping.message.pingSequence!
        #expect(probe.timers.contains { $0.timer == .probeTimeout(sequence: sequence) && $0.afterMs == 500 })
        let indirect = node.onTimer(.probeTimeout(sequence: sequence), nowMs: 500)
        let requests = indirect.sends.filter { $0.message.isPingRequest }
        #expect(requests.count == 3)
        #expect(!requests.contains { $0.to == ping.to })
        #expect(indirect.timers.contains { $0.timer == .indirectProbeTimeout(sequence: sequence) })
        let verdict = node.onTimer(.indirectProbeTimeout(sequence: sequence), nowMs: 999)
        #expect(verdict.changes.count == 1)
        #expect(verdict.changes.first?.member.status == .suspect)
        #expect(verdict.changes.first?.previous == .alive)
        #expect(node.stats.suspicionsStarted == 1)
    }

    @Test func anAckInTimeKeepsTheMemberAlive() {
        var node = MembershipInstance.make("a")
        node.know(["b"])
        let ping = node.onTimer(.probe, nowMs: 0).sends.first { $0.message.pingSequence != nil }!
        let sequence = ping.message.pingSequence!
        _ = node.onMessage(.ack(sequence: sequence, source: NodeID("b"), sentAtMs: 90, gossip: []), nowMs: 100)
        #expect(node.onTimer(.probeTimeout(sequence: sequence), nowMs: 500).sends.isEmpty)
        #expect(node.onTimer(.indirectProbeTimeout(sequence: sequence), nowMs: 999).changes.isEmpty)
        #expect(node.members[NodeID("b")]?.status == .alive)
    }

    @Test func aRelayPingsTheTargetAndForwardsTheAck() {
        var relay = MembershipInstance.make("r")
        let origin = MemberAddress(host: "origin", port: 1)
        let target = MemberAddress(host: "target", port: 2)
        let directives = relay.onMessage(
            .pingRequest(sequence: 41, target: NodeID("t"), targetAddress: target, source: NodeID("o"), sourceAddress: origin, gossip: []), nowMs: 0)
        let ping = directives.sends.first!
        #expect(ping.to == target)
        let relaySequence = ping.message.pingSequence!
        #expect(directives.timers.contains { $0.timer == .relayTimeout(sequence: relaySequence) && $0.afterMs == 400 })
        let forwarded = relay.onMessage(.ack(sequence: relaySequence, source: NodeID("t"), sentAtMs: 45, gossip: []), nowMs: 50).sends
        #expect(forwarded.count == 1)
        #expect(forwarded.first?.to == origin)
        #expect(forwarded.first?.message == .ack(sequence: 41, source: NodeID("r"), sentAtMs: 50, gossip: []))
        // The nack timer finds nothing left to do.
        #expect(relay.onTimer(.relayTimeout(sequence: relaySequence), nowMs: 400).sends.isEmpty)
    }

    @Test func aRelayWhoseTargetIsSilentSendsANack() {
        var relay = MembershipInstance.make("r")
        let origin = MemberAddress(host: "origin", port: 1)
        let directives = relay.onMessage(
            .pingRequest(sequence: 9, target: NodeID("t"), targetAddress: .init(host: "t", port: 2), source: NodeID("o"), sourceAddress: origin, gossip: []), nowMs: 0)
        let relaySequence = directives.sends.first!.message.pingSequence!
        let nack = relay.onTimer(.relayTimeout(sequence: relaySequence), nowMs: 400).sends
        #expect(nack.first?.message == .nack(sequence: 9, source: NodeID("r")))
        #expect(nack.first?.to == origin)
        #expect(relay.stats.nacksSent == 1)
    }

    @Test func olderIncarnationsAreIgnoredNewerWin() {
        var node = MembershipInstance.make("a")
        node.know(["b"])
        let b = NodeID("b")
        _ = node.onMessage(.gossip(source: b, gossip: [.alive(b, incarnation: 5, address: MembershipInstance.address("b"))]), nowMs: 1)
        #expect(node.members[b]?.incarnation == 5)
        _ = node.onMessage(.gossip(source: b, gossip: [.suspect(b, incarnation: 4, suspector: NodeID("c"))]), nowMs: 2)
        #expect(node.members[b]?.status == .alive)
        _ = node.onMessage(.gossip(source: b, gossip: [.suspect(b, incarnation: 5, suspector: NodeID("c"))]), nowMs: 3)
        #expect(node.members[b]?.status == .suspect)
        // The same incarnation does not refute a suspicion; a higher one does.
        _ = node.onMessage(.gossip(source: b, gossip: [.alive(b, incarnation: 5, address: MembershipInstance.address("b"))]), nowMs: 4)
        #expect(node.members[b]?.status == .suspect)
        let refuted = node.onMessage(.gossip(source: b, gossip: [.alive(b, incarnation: 6, address: MembershipInstance.address("b"))]), nowMs: 5)
        #expect(node.members[b]?.status == .alive)
        #expect(refuted.changes.first?.previous == .suspect)
        _ = node.onMessage(.gossip(source: b, gossip: [.dead(b, incarnation: 5, declarer: NodeID("c"))]), nowMs: 6)
        #expect(node.members[b]?.status == .alive)
    }

    @Test func beingSuspectedIsRefutedWithAHigherIncarnation() {
        var node = MembershipInstance.make("a")
        node.know(["b"])
        #expect(node.incarnation == 0)
        _ = node.onMessage(.gossip(source: NodeID("b"), gossip: [.suspect(NodeID("a"), incarnation: 0, suspector: NodeID("b"))]), nowMs: 1)
        #expect(node.incarnation == 1)
        #expect(node.stats.refutations == 1)
        #expect(node.awareness == 1)
        // The refutation travels on the next message.
        let ping = node.onTimer(.probe, nowMs: 10).sends.first!.message
        #expect(ping.gossip.contains(.alive(NodeID("a"), incarnation: 1, address: node.address)))
        _ = node.onMessage(.gossip(source: NodeID("b"), gossip: [.dead(NodeID("a"), incarnation: 3, declarer: NodeID("b"))]), nowMs: 20)
        #expect(node.incarnation == 4)
    }

    @Test func buddySystemTellsASuspectItIsSuspected() {
        var node = MembershipInstance.make("a")
        node.know(["b"])
        _ = node.onMessage(.gossip(source: NodeID("c"), gossip: [.suspect(NodeID("b"), incarnation: 0, suspector: NodeID("c"))]), nowMs: 1)
        let ping = node.onTimer(.probe, nowMs: 10).sends.first { $0.message.pingSequence != nil }!
        #expect(ping.message.gossip.first == .suspect(NodeID("b"), incarnation: 0, suspector: NodeID("a")))
    }

    @Test func gracefulLeaveIsAnnouncedAndSeenAsLeft() {
        var leaver = MembershipInstance.make("a")
        leaver.know(["b", "c"])
        let directives = leaver.onLeave(nowMs: 5)
        #expect(leaver.isLeaving)
        #expect(leaver.incarnation == 1)
        let sent = directives.sends
        #expect(!sent.isEmpty)
        #expect(sent.allSatisfy { $0.message.gossip.contains(.dead(NodeID("a"), incarnation: 1, declarer: NodeID("a"))) })
        var other = MembershipInstance.make("b")
        other.know(["a", "c"])
        let seen = other.onMessage(sent[0].message, nowMs: 6)
        #expect(other.members[NodeID("a")]?.status == .left)
        #expect(seen.changes.first?.member.status == .left)
        // A leaving node does not refute its own leave.
        _ = leaver.onMessage(.gossip(source: NodeID("b"), gossip: [.suspect(NodeID("a"), incarnation: 1, suspector: NodeID("b"))]), nowMs: 7)
        #expect(leaver.incarnation == 1)
    }

    @Test func deadMembersAreReapedAndOldGossipCannotBringThemBack() {
        var settings = MembershipSettings()
        settings.tombstoneMs = 10_000
        var node = MembershipInstance.make("a", settings: settings)
        node.know(["b", "c"])
        let b = NodeID("b")
        _ = node.onMessage(.gossip(source: NodeID("c"), gossip: [.dead(b, incarnation: 2, declarer: b)]), nowMs: 100)
        #expect(node.members[b]?.status == .left)
        _ = node.onTimer(.reap, nowMs: 5_000)
        #expect(node.members[b] != nil)
        _ = node.onTimer(.reap, nowMs: 10_100)
        #expect(node.members[b] == nil)
        _ = node.onMessage(.gossip(source: NodeID("c"), gossip: [.alive(b, incarnation: 2, address: MembershipInstance.address("b"))]), nowMs: 11_000)
        #expect(node.members[b] == nil)
        _ = node.onMessage(.gossip(source: NodeID("c"), gossip: [.alive(b, incarnation: 3, address: MembershipInstance.address("b"))]), nowMs: 12_000)
        #expect(node.members[b]?.status == .alive)
    }

    @Test func payloadsAreDeliveredOnceAndPassedOn() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c"])
        let payload = Gossip.payload(PayloadID(origin: NodeID("b"), sequence: 1), [1, 2, 3])
        let first = node.onMessage(.gossip(source: NodeID("b"), gossip: [payload]), nowMs: 1)
        #expect(first.contains(.deliver([1, 2, 3], from: NodeID("b"))))
        let again = node.onMessage(.gossip(source: NodeID("c"), gossip: [payload]), nowMs: 2)
        #expect(!again.contains { if case .deliver = $0 { true } else { false } })
        #expect(node.pendingBroadcasts >= 1)
    }

    @Test func oversizedPayloadsAreRefused() {
        var node = MembershipInstance.make("a")
        #expect(node.broadcast(payload: [UInt8](repeating: 0, count: 2_000)) == nil)
        #expect(node.broadcast(payload: [UInt8](repeating: 0, count: 1_000)) != nil)
    }

    @Test func pushPullTurnsARemoteDeathIntoALocalSuspicion() {
        var node = MembershipInstance.make("a")
        node.know(["b", "c"])
        _ = node.onPushPull([Member(id: NodeID("b"), address: MembershipInstance.address("b"), status: .dead, incarnation: 0, lastChangeMs: 0)], nowMs: 10)
        #expect(node.members[NodeID("b")]?.status == .suspect)
        _ = node.onPushPull([Member(id: NodeID("c"), address: MembershipInstance.address("c"), status: .left, incarnation: 1, lastChangeMs: 0)], nowMs: 10)
        #expect(node.members[NodeID("c")]?.status == .left)
    }
}
