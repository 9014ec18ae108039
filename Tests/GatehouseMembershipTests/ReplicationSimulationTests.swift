import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import Testing

/// Key-record replication in simulation: random writes on random replicas under loss,
/// duplication, reordering and partitions converge to the sequential last-writer-wins model.
@Suite("Replication simulation")
struct ReplicationSimulationTests {
    static let hostile = SimulatedNetwork(defaults: LinkConditions(loss: 0.2, duplication: 0.2, minDelayMs: 1, maxDelayMs: 80))

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomWritesUnderLossAndPartitionsConvergeToTheModel(seed: UInt64) {
        var simulator = ReplicationSimulator(replicas: 7, seed: seed, network: Self.hostile, antiEntropyMs: 1_000)
        var random = SeededGenerator(seed: seed &* 977)
        let ids = (0..<30).map { "key_\($0)" }
        for step in 0..<300 {
            if step == 100 {
                simulator.network.partition([(0..<3).map(ReplicationSimulator.node), (3..<7).map(ReplicationSimulator.node)])
            }
            if step == 200 { simulator.network.heal() }
            let replica = Int(random.next() % 7)
            simulator.write(ids[Int(random.next() % UInt64(ids.count))], on: replica, name: "step \(step)")
            simulator.run(forMs: Int64(random.next() % 50))
        }
        let converged = simulator.runUntilConverged(limitMs: 60_000)
        #expect(converged != nil)
        let expected = simulator.modelDigest
        for replica in simulator.replicas {
            #expect(replica.digest == expected)
            for (id, record) in simulator.model { #expect(replica.record(id: id)?.name == record.name) }
        }
    }

    @Test func aWriteReachesEveryReplicaByPushWhenTheNetworkIsGood() {
        var simulator = ReplicationSimulator(replicas: 50, seed: 4, network: SimulatedNetwork(defaults: .perfect), antiEntropyMs: 5_000)
        let record = simulator.write("key_a", on: 3, name: "first")
        simulator.run(forMs: 5)
        #expect(simulator.holders(of: record) == 50)
    }

    @Test func lostPushesAreRepairedByAntiEntropyWithinItsBound() {
        var simulator = ReplicationSimulator(
            replicas: 20, seed: 5, network: SimulatedNetwork(defaults: LinkConditions(minDelayMs: 1, maxDelayMs: 5)), antiEntropyMs: 1_000)
        simulator.dropEveryPush = true
        let record = simulator.write("key_b", on: 0, name: "only anti-entropy carries this")
        // Every push is lost; anti-entropy (every second per replica) spreads it epidemically.
        let converged = simulator.runUntilConverged(limitMs: 20_000)
        #expect(converged != nil)
        #expect(simulator.holders(of: record) == 20)
    }
}
