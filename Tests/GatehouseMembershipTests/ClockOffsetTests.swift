import GatehouseMembership
import GatehouseTestKit
import Testing

/// Members compare wall clocks on the probes they send anyway (`ClockOffsets`), and a
/// majority decides who is wrong.
@Suite("Clock offsets")
struct ClockOffsetTests {
    @Test func anAckTimesTheResponderLikeNTPWithinHalfTheRoundTrip() {
        var offsets = ClockOffsets(maxRoundTripMs: 500, maxAgeMs: 60_000)
        // Sent at 1000, their clock said 61_010 when answering, back at 1020: they are 60 s ahead.
        offsets.record(member: NodeID("b"), sentMs: 1_000, theirMs: 61_010, receivedMs: 1_020)
        #expect(offsets.samples[NodeID("b")]?.offsetMs == 60_000)
        // A round trip beyond the bound, or a reply before the ping, is no sample.
        offsets.record(member: NodeID("c"), sentMs: 1_000, theirMs: 9_000, receivedMs: 1_600)
        offsets.record(member: NodeID("d"), sentMs: 1_000, theirMs: 9_000, receivedMs: 900)
        offsets.record(member: NodeID("e"), sentMs: .min, theirMs: .max, receivedMs: .min)
        #expect(offsets.samples.count == 1)
    }

    @Test func theMedianWithThisNodeDecidesAndATieNeverBlamesThisNode() {
        var offsets = ClockOffsets(maxRoundTripMs: 500, maxAgeMs: 60_000)
        #expect(offsets.clusterOffsetMs(nowMs: 0) == nil)
        offsets.record(member: NodeID("b"), sentMs: 0, theirMs: -30_000, receivedMs: 0)
        // Two nodes that disagree: neither concludes it is the one that is off.
        #expect(offsets.clusterOffsetMs(nowMs: 0) == 0)
        offsets.record(member: NodeID("c"), sentMs: 0, theirMs: -30_010, receivedMs: 0)
        #expect(offsets.clusterOffsetMs(nowMs: 0) == -30_000)
        offsets.record(member: NodeID("d"), sentMs: 0, theirMs: 5, receivedMs: 0)
        #expect(offsets.clusterOffsetMs(nowMs: 0) == 0)
        // Old samples stop counting.
        #expect(offsets.clusterOffsetMs(nowMs: 61_000) == nil)
    }

    /// Five nodes, one of them a minute ahead: the skewed node learns it is off by about a
    /// minute, every other node that the cluster's time is its own.
    @Test func inSimulationTheNodeWithTheSkewedClockIsTheOneThatKnows() {
        var settings = MembershipSettings()
        settings.probeIntervalMs = 200
        settings.probeTimeoutMs = 100
        var simulator = MembershipSimulator(
            seed: 21, settings: settings, network: SimulatedNetwork(defaults: LinkConditions(minDelayMs: 1, maxDelayMs: 10)))
        let ids = (1...5).map { NodeID("n\($0)") }
        simulator.clockOffsetMs[ids[2]] = 60_000
        for (index, id) in ids.enumerated() { simulator.addNode(id, joining: index == 0 ? nil : ids[0]) }
        simulator.run(forMs: 10_000)
        for id in ids {
            let instance = simulator.nodes[id]!.instance
            let offset = instance.clusterClockOffsetMs(nowMs: simulator.nowMs + (simulator.clockOffsetMs[id] ?? 0))
            if id == ids[2] {
                #expect(offset.map { abs($0 + 60_000) <= 10 } == true, "\(id): \(String(describing: offset))")
            } else {
                #expect(offset.map { abs($0) <= 10 } == true, "\(id): \(String(describing: offset))")
            }
        }
    }
}
