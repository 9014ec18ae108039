import GatehouseCore
import Testing

@Suite("Clock correction")
struct ClockCorrectionTests {
    /// Feeds measurements in order: whether each was reported, and the correction after it.
    static func run(_ clock: inout ClockCorrection, _ offsets: [Int64?]) -> [(reported: Bool, correction: Int64)] {
        offsets.map { offset in
            let reported = clock.observe(clusterOffsetMs: offset)
            return (reported, clock.correctionMs)
        }
    }

    @Test func aClockOffByMoreThanTheBoundAnswersOnTheClustersTimeUntilItIsWellWithin() {
        var clock = ClockCorrection(boundMs: 5_000)
        // Nothing measured; within the bound; then sixty seconds ahead of the cluster (the
        // cluster's time is 60 s behind ours); small changes followed without a report;
        // between half the bound and the bound still corrected (no flapping); well within: trusted.
        let steps = Self.run(&clock, [nil, 4_000, -60_000, -60_020, -3_000, -2_000])
        #expect(steps.map(\.reported) == [false, false, true, false, false, true])
        #expect(steps.map(\.correction) == [0, 0, -60_000, -60_020, -3_000, 0])
    }

    @Test func extremeMeasurementsNeverTrap() {
        var wide = ClockCorrection(boundMs: .max)
        _ = Self.run(&wide, [.min, .max, 0])
        var tight = ClockCorrection(boundMs: 0)
        let steps = Self.run(&tight, [.min, .max, 0])
        #expect(steps.map(\.correction) == [.min, .max, 0])
    }
}
