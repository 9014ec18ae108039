import Foundation
import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Hybrid logical clock and timestamps")
struct HybridClockTests {
    static let t0 = Fixture.t0

    @Test("ticks follow the wall clock when it moves forward")
    func followsWallClock() {
        var clock = HybridClock(node: "n1")
        #expect(clock.tick(nowMs: Self.t0) == HybridTimestamp(wallMs: Self.t0, logical: 0, node: "n1"))
        #expect(clock.tick(nowMs: Self.t0 + 5) == HybridTimestamp(wallMs: Self.t0 + 5, logical: 0, node: "n1"))
    }

    @Test("ticks within one millisecond count up the logical part")
    func sameMillisecond() {
        var clock = HybridClock(node: "n1")
        let stamps = (0..<5).map { _ in clock.tick(nowMs: Self.t0) }
        #expect(stamps.map(\.logical) == [0, 1, 2, 3, 4])
        #expect(stamps.allSatisfy { $0.wallMs == Self.t0 })
    }

    @Test("ticks stay strictly increasing when the wall clock goes backwards")
    func monotonicUnderBackwardsWallClock() {
        var clock = HybridClock(node: "n1")
        let first = clock.tick(nowMs: Self.t0)
        let back = clock.tick(nowMs: Self.t0 - 10_000)
        #expect(back > first)
        #expect(back.wallMs == Self.t0)
        #expect(back.logical == 1)
        // Once the wall clock catches up and passes, the logical part resets.
        #expect(clock.tick(nowMs: Self.t0 + 1) == HybridTimestamp(wallMs: Self.t0 + 1, logical: 0, node: "n1"))
    }

    @Test("ticks are strictly increasing over a random walk of the wall clock", arguments: [UInt64(1), 2, 3])
    func randomWalk(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var clock = HybridClock(node: "n\(seed)")
        var wall = Self.t0
        var last = HybridTimestamp.zero
        for _ in 0..<2000 {
            wall += Int64.random(in: -50...50, using: &rng)
            let stamp = clock.tick(nowMs: wall)
            #expect(stamp > last)
            #expect(stamp.wallMs >= wall)
            #expect(stamp == clock.last)
            last = stamp
        }
    }

    @Test("observe moves past a remote timestamp that is ahead")
    func observeAhead() {
        var clock = HybridClock(node: "a")
        _ = clock.tick(nowMs: Self.t0)
        let remote = HybridTimestamp(wallMs: Self.t0 + 5000, logical: 7, node: "b")
        clock.observe(remote, nowMs: Self.t0 + 1)
        #expect(clock.last > remote)
        #expect(clock.last == HybridTimestamp(wallMs: Self.t0 + 5000, logical: 8, node: "a"))
        let next = clock.tick(nowMs: Self.t0 + 2)
        #expect(next > remote)
        #expect(next.node == "a")
    }

    @Test("observe with equal walls takes the larger logical part plus one")
    func observeEqualWalls() {
        var clock = HybridClock(node: "a")
        for _ in 0..<3 { _ = clock.tick(nowMs: Self.t0) }  // logical 2
        clock.observe(HybridTimestamp(wallMs: Self.t0, logical: 9, node: "b"), nowMs: Self.t0)
        #expect(clock.last == HybridTimestamp(wallMs: Self.t0, logical: 10, node: "a"))
        clock.observe(HybridTimestamp(wallMs: Self.t0, logical: 1, node: "z"), nowMs: Self.t0)
        #expect(clock.last == HybridTimestamp(wallMs: Self.t0, logical: 11, node: "a"))
    }

    @Test("observe of an older remote keeps the local clock ahead")
    func observeBehind() {
        var clock = HybridClock(node: "a")
        let before = clock.tick(nowMs: Self.t0)
        clock.observe(HybridTimestamp(wallMs: Self.t0 - 100, logical: 50, node: "b"), nowMs: Self.t0)
        #expect(clock.last > before)
        #expect(clock.last.wallMs == Self.t0)
        // A wall clock ahead of both wins outright.
        clock.observe(HybridTimestamp(wallMs: Self.t0 - 100, logical: 50, node: "b"), nowMs: Self.t0 + 10)
        #expect(clock.last == HybridTimestamp(wallMs: Self.t0 + 10, logical: 0, node: "a"))
    }

    @Test("timestamps order by wall time, then logical counter, then node")
    func ordering() {
        let base = HybridTimestamp(wallMs: 100, logical: 5, node: "m")
        #expect(base < HybridTimestamp(wallMs: 101, logical: 0, node: "a"))
        #expect(base > HybridTimestamp(wallMs: 99, logical: 99, node: "z"))
        #expect(base < HybridTimestamp(wallMs: 100, logical: 6, node: "a"))
        #expect(base > HybridTimestamp(wallMs: 100, logical: 4, node: "z"))
        #expect(base < HybridTimestamp(wallMs: 100, logical: 5, node: "n"))
        #expect(base > HybridTimestamp(wallMs: 100, logical: 5, node: "l"))
        #expect(!(base < HybridTimestamp(wallMs: 100, logical: 5, node: "m")))
        #expect(HybridTimestamp.zero < base)
    }

    @Test("string form round-trips", arguments: [
        HybridTimestamp(wallMs: 1_800_000_000_000, logical: 3, node: "n1"),
        HybridTimestamp(wallMs: 0, logical: 0, node: ""),
        HybridTimestamp(wallMs: -5, logical: UInt32.max, node: "node.with.dots"),
        HybridTimestamp(wallMs: Int64.max, logical: 1, node: "odd@node"),
    ])
    func stringRoundTrip(stamp: HybridTimestamp) {
        #expect(HybridTimestamp(parsing: stamp.description) == stamp)
    }

    @Test("the string form is wall.logical@node")
    func stringForm() {
        #expect(HybridTimestamp(wallMs: 1_800_000_000_000, logical: 3, node: "n1").description == "1800000000000.3@n1")
    }

    @Test("malformed strings do not parse", arguments: ["", "1.2", "1@n", "a.b@n", "1.2.3@n", "1.-1@n", "1.4294967296@n", "@n", ".@n"])
    func malformedStrings(text: String) {
        #expect(HybridTimestamp(parsing: text) == nil)
    }

    @Test("JSON form is the string form")
    func codable() throws {
        let stamp = HybridTimestamp(wallMs: 42, logical: 7, node: "n2")
        let data = try JSONEncoder().encode([stamp])
        #expect(String(decoding: data, as: UTF8.self) == "[\"42.7@n2\"]")
        #expect(try JSONDecoder().decode([HybridTimestamp].self, from: data) == [stamp])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([HybridTimestamp].self, from: Data("[\"42@n2\"]".utf8)) }
    }
}
