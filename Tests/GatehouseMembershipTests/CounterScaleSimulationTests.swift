import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import Testing

/// The counter-scale simulator at tiny scale: the shipped gatekeepers, send rule,
/// replication machines and stream encoders, three nodes, 100 keys, two seconds of traffic.
@Suite("Counter scale simulation")
struct CounterScaleSimulationTests {
    /// Long windows, so no window rolls over during the run and every count stays comparable.
    static let mix = [
        CounterScaleSimulator.KeyClass(name: "far", keys: 90, limit: 100_000, windowMs: 60_000, requestsPerSecond: 100),
        CounterScaleSimulator.KeyClass(name: "over", keys: 10, limit: 200, windowMs: 60_000, requestsPerSecond: 200, measuresAccuracy: true),
    ]

    /// After the traffic stops, the rule sends every unsent count within its staleness
    /// bound (`min(maxStalenessMs, window / 10)` = 1 s, plus a tick and a delivery), so every
    /// node's view of every key equals the true total: the bound after traffic is zero.
    @Test func everyViewConvergesToTheTrueTotalAfterTrafficStops() {
        var configuration = CounterScaleSimulator.Configuration(nodes: 3, keyClasses: Self.mix, trafficMs: 2_000, warmupMs: 0, quietMs: 1_200)
        configuration.checkConvergence = true
        configuration.seed = 7
        let result = CounterScaleSimulator.run(configuration)
        #expect(result.admittedPerSecond > 9_000)
        #expect((result.comparedViews ?? 0) >= 3 * 100)
        #expect(result.missingViews == 0)
        #expect(result.maxViewError == 0)
    }

    /// The same run stopped before the staleness bound has passed is not converged: the
    /// check above can fail.
    @Test func viewsLagWhileCountsAreHeldBack() {
        var configuration = CounterScaleSimulator.Configuration(nodes: 3, keyClasses: Self.mix, trafficMs: 2_000, warmupMs: 0, quietMs: 0)
        configuration.checkConvergence = true
        configuration.seed = 7
        let result = CounterScaleSimulator.run(configuration)
        #expect((result.maxViewError ?? 0) > 0)
    }

    /// Keys far below their limits (300 req/s against 100,000 a minute): each node holds
    /// back up to θ·(L − E)/N ≈ 3,000 requests of a key, so only the 1 s staleness bound
    /// sends, about once a second per key per node where a node sees ~100 requests a second.
    /// Stated bounds: slots sent ≤ 1/10 of one slot per admitted request per peer, and bytes
    /// ≤ 1/4 of sending every change at the next tick (`CounterSendRule.always`, what a
    /// per-request sender batched per tick costs).
    @Test func keysFarBelowTheirLimitsCostAFractionOfAPerRequestSend() {
        let far = [CounterScaleSimulator.KeyClass(name: "far", keys: 90, limit: 100_000, windowMs: 60_000, requestsPerSecond: 300)]
        var configuration = CounterScaleSimulator.Configuration(nodes: 3, keyClasses: far, trafficMs: 2_000, warmupMs: 500)
        configuration.seed = 11
        let byNeed = CounterScaleSimulator.run(configuration)
        configuration.rule = .always
        let perChange = CounterScaleSimulator.run(configuration)
        let perRequestSlots = byNeed.admittedPerSecond / 3 * 2
        #expect(byNeed.admittedPerSecond > 25_000)
        #expect(byNeed.slotsPerNodePerSecond <= perRequestSlots / 10)
        #expect(perChange.slotsPerNodePerSecond >= perRequestSlots / 10)
        #expect(byNeed.bytesPerNodePerSecond > 0)
        #expect(byNeed.bytesPerNodePerSecond <= perChange.bytesPerNodePerSecond / 4)
    }
}
