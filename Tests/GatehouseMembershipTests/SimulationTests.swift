import GatehouseMembership
import GatehouseTestKit
import Testing

@Suite("Membership simulation")
struct SimulationTests {
    /// Crash one node of N; measure when every other node sees it dead.
    static func detectionTime(nodes count: Int, seed: UInt64) -> (crashAt: Int64, detectedAt: Int64?, simulator: MembershipSimulator) {
        var simulator = MembershipSimulator(seed: seed)
        simulator.bootstrap(count: count, settleMs: count >= 100 ? 40_000 : 15_000)
        let victim = NodeID("n\(count / 2 + 1)")
        let crashAt = simulator.nowMs
        simulator.crash(victim)
        let detected = simulator.run(untilMs: crashAt + 120_000, stepMs: 100) { $0.everyone(sees: victim, as: [.dead]) }
        return (crashAt, detected, simulator)
    }

    /// How long after the crash every member saw it dead (`detectionTime`), on a thread of
    /// its own (`onOwnThread`: the larger runs take long).
    static func detectionDelay(nodes count: Int, seed: UInt64) async -> Int64? {
        await onOwnThread {
            let run = detectionTime(nodes: count, seed: seed)
            return run.detectedAt.map { $0 - run.crashAt }
        }
    }

    @Test(arguments: [5, 50])
    func aCrashIsDetectedByEveryone(nodes: Int) async {
        let delay = await Self.detectionDelay(nodes: nodes, seed: 42)
        #expect(delay != nil)
        if let delay { #expect(delay < 60_000) }
    }

    @Test func aCrashIsDetectedByEveryoneAt500Nodes() async {
        #expect(await Self.detectionDelay(nodes: 500, seed: 7) != nil)
    }

    @Test func theClusterFormsAFullViewFromOneSeed() {
        var simulator = MembershipSimulator(seed: 3)
        simulator.bootstrap(count: 20, settleMs: 20_000)
        #expect(simulator.isFullyConverged)
    }

    @Test func noFalseDeathsAt50NodesWithTenPercentLoss() async {
        let (converged, falseDeaths) = await onOwnThread {
            var simulator = MembershipSimulator(seed: 11, network: SimulatedNetwork(defaults: LinkConditions(loss: 0.10, minDelayMs: 1, maxDelayMs: 10)))
            simulator.bootstrap(count: 50, settleMs: 30_000)
            let converged = simulator.isFullyConverged
            let start = simulator.observations.count
            simulator.run(forMs: 600_000)
            return (converged, simulator.observations[start...].filter { $0.member.status == .dead }.count)
        }
        #expect(converged)
        #expect(falseDeaths == 0, "\(falseDeaths) false deaths")
    }

    @Test func aStalledNodeIsSuspectedButNotDeclaredDead() {
        var simulator = MembershipSimulator(seed: 5)
        simulator.bootstrap(count: 10, settleMs: 15_000)
        let stalled = NodeID("n4")
        let start = simulator.observations.count
        simulator.stall(stalled, forMs: 5_000)
        simulator.run(forMs: 30_000)
        let seen = simulator.observations[start...].filter { $0.member.id == stalled }
        #expect(seen.contains { $0.member.status == .suspect })
        #expect(!seen.contains { $0.member.status == .dead })
        #expect(simulator.everyone(sees: stalled, as: [.alive]))
    }

    @Test func aPartitionHealsIntoOneView() {
        var simulator = MembershipSimulator(seed: 9)
        simulator.bootstrap(count: 10, settleMs: 15_000)
        let left = (1...5).map { NodeID("n\($0)") }
        let right = (6...10).map { NodeID("n\($0)") }
        simulator.network.partition([left, right])
        simulator.run(forMs: 60_000)
        #expect(simulator.status(of: NodeID("n7"), seenBy: NodeID("n1")) == .dead)
        simulator.network.heal()
        let healed = simulator.run(untilMs: simulator.nowMs + 120_000, stepMs: 500) { $0.isFullyConverged }
        #expect(healed != nil)
    }

    @Test func aLeftNodeIsNeverResurrectedByOldGossip() {
        var simulator = MembershipSimulator(seed: 13, network: SimulatedNetwork(defaults: LinkConditions(loss: 0.05, duplication: 0.2, minDelayMs: 1, maxDelayMs: 50)))
        simulator.bootstrap(count: 12, settleMs: 15_000)
        let leaver = NodeID("n5")
        simulator.leave(leaver)
        simulator.run(forMs: 3_000)
        simulator.crash(leaver)
        let start = simulator.observations.count
        simulator.run(forMs: 120_000)
        let resurrected = simulator.observations[start...].filter { $0.member.id == leaver && $0.member.status.isActive }
        #expect(resurrected.isEmpty)
        for observer in simulator.upNodes {
            let status = simulator.status(of: leaver, seenBy: observer)
            #expect(status == nil || status == .left, "\(observer) sees \(String(describing: status))")
        }
    }

    @Test func aRestartedNodeComesBackAliveWithAHigherIncarnation() {
        var simulator = MembershipSimulator(seed: 17)
        simulator.bootstrap(count: 5, settleMs: 10_000)
        let node = NodeID("n3")
        simulator.crash(node)
        _ = simulator.run(untilMs: simulator.nowMs + 60_000) { $0.everyone(sees: node, as: [.dead]) }
        let deadIncarnation = simulator.nodes[NodeID("n1")]!.instance.members[node]!.incarnation
        simulator.restart(node, joining: NodeID("n1"))
        let back = simulator.run(untilMs: simulator.nowMs + 30_000) { $0.everyone(sees: node, as: [.alive]) }
        #expect(back != nil)
        #expect(simulator.nodes[NodeID("n1")]!.instance.members[node]!.incarnation > deadIncarnation)
    }

    @Test func aBroadcastReachesEveryNode() {
        var simulator = MembershipSimulator(seed: 21)
        simulator.bootstrap(count: 50, settleMs: 20_000)
        let sentAt = simulator.nowMs
        #expect(simulator.broadcast(from: NodeID("n1"), payload: [42]) != nil)
        let reached = simulator.run(untilMs: sentAt + 20_000, stepMs: 50) { simulator in
            simulator.upNodes.filter { $0 != NodeID("n1") }.allSatisfy { simulator.deliveries[$0]?.count == 1 }
        }
        #expect(reached != nil)
    }

    @Test func theSameSeedGivesTheSameRun() {
        func run() -> [MembershipSimulator.Observation] {
            var simulator = MembershipSimulator(seed: 99, network: SimulatedNetwork(defaults: LinkConditions(loss: 0.1, duplication: 0.1, minDelayMs: 1, maxDelayMs: 30)))
            simulator.bootstrap(count: 8, settleMs: 5_000)
            simulator.crash(NodeID("n2"))
            simulator.run(forMs: 30_000)
            return simulator.observations
        }
        #expect(run() == run())
    }
}
