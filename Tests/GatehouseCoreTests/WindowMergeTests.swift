import GatehouseCore
import GatehouseTestKit
import Testing

/// One slot value as a peer would send it.
struct SlotUpdate: Sendable, Hashable {
    var windowIndex: Int64
    var node: NodeOrdinal
    var count: Int64
}

@Suite("Shared counters: merge is a max per slot")
struct WindowMergeTests {
    static func randomUpdates(seed: UInt64, windows: ClosedRange<Int64>, nodes: NodeOrdinal = 6, count: Int = 40) -> [SlotUpdate] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            SlotUpdate(
                windowIndex: Int64.random(in: windows, using: &rng),
                node: NodeOrdinal.random(in: 0..<nodes, using: &rng),
                count: Int64.random(in: 0...100, using: &rng)
            )
        }
    }

    /// The state a G-counter must reach: the largest value seen per (window, node).
    static func expectedMax(_ updates: [SlotUpdate]) -> [Int64: [NodeOrdinal: Int64]] {
        var result: [Int64: [NodeOrdinal: Int64]] = [:]
        for update in updates {
            result[update.windowIndex, default: [:]][update.node] = max(result[update.windowIndex]?[update.node] ?? 0, update.count)
        }
        return result
    }

    static func apply(_ updates: [SlotUpdate], to slots: inout WindowSlots) {
        for update in updates { slots.merge(node: update.node, count: update.count) }
    }

    static func apply(_ updates: [SlotUpdate], to window: inout SlidingWindow) {
        for update in updates { window.merge(windowIndex: update.windowIndex, node: update.node, count: update.count) }
    }

    @Test("a slot keeps the larger of two counts")
    func keepsMax() {
        var slots = WindowSlots(index: 7)
        slots.merge(node: 1, count: 5)
        slots.merge(node: 1, count: 3)
        #expect(slots.count(of: 1) == 5)
        slots.merge(node: 1, count: 9)
        #expect(slots.count(of: 1) == 9)
        slots.merge(node: 2, count: 4)
        slots.own = 2
        slots.merge(node: 0, count: 1)
        #expect(slots.own == 2)
        slots.merge(node: 0, count: 6)
        #expect(slots.own == 6)
        #expect(slots.total == 6 + 9 + 4)
        #expect(slots.peerTotal == 13)
        #expect(slots.count(of: 3) == 0)
    }

    @Test("a zero count from an unseen peer adds no slot")
    func zeroCount() {
        var slots = WindowSlots(index: 1)
        slots.merge(node: 4, count: 0)
        #expect(slots.peers.isEmpty)
        #expect(slots.total == 0)
    }

    @Test("WindowSlots merge is idempotent and commutative", arguments: Array(UInt64(0)..<25))
    func slotsMergeLaws(seed: UInt64) {
        let updates = Self.randomUpdates(seed: seed, windows: 0...0)
        var rng = SeededGenerator(seed: seed ^ 0xABCD)
        let expected = Self.expectedMax(updates)[0] ?? [:]

        var inOrder = WindowSlots(index: 0)
        Self.apply(updates, to: &inOrder)
        var shuffled = WindowSlots(index: 0)
        Self.apply(updates.shuffled(using: &rng), to: &shuffled)
        var twice = WindowSlots(index: 0)
        Self.apply(updates, to: &twice)
        Self.apply(updates.reversed(), to: &twice)

        for node in NodeOrdinal(0)..<6 {
            let want = expected[node] ?? 0
            #expect(inOrder.count(of: node) == want)
            #expect(shuffled.count(of: node) == want)
            #expect(twice.count(of: node) == want)
        }
        let total = expected.values.reduce(0, +)
        #expect(inOrder.total == total)
        #expect(shuffled.total == total)
        #expect(twice.total == total)
    }

    @Test("a slot for the current or previous window merges in place")
    func mergeIntoCurrentAndPrevious() {
        var window = SlidingWindow()
        window.advance(nowMs: 10_500, windowMs: 1000)
        window.merge(windowIndex: 10, node: 2, count: 4)
        window.merge(windowIndex: 9, node: 2, count: 3)
        #expect(window.current.index == 10)
        #expect(window.current.count(of: 2) == 4)
        #expect(window.previous.count(of: 2) == 3)
    }

    @Test("a slot for a newer window moves the windows forward")
    func mergeNewer() {
        var window = SlidingWindow()
        window.advance(nowMs: 10_500, windowMs: 1000)
        window.record(cost: 5)
        window.merge(windowIndex: 11, node: 1, count: 2)
        #expect(window.current.index == 11)
        #expect(window.previous.index == 10)
        #expect(window.previous.own == 5)
        #expect(window.current.count(of: 1) == 2)

        window.merge(windowIndex: 20, node: 3, count: 1)
        #expect(window.current.index == 20)
        #expect(window.previous.index == 19)
        #expect(window.previous.total == 0)
    }

    @Test("a slot older than the previous window is ignored")
    func mergeOlderIgnored() {
        var window = SlidingWindow()
        window.advance(nowMs: 10_500, windowMs: 1000)
        window.merge(windowIndex: 8, node: 1, count: 50)
        #expect(window.current.total == 0)
        #expect(window.previous.total == 0)
        #expect(window.current.index == 10)
    }

    @Test("SlidingWindow merge is idempotent and commutative across windows", arguments: Array(UInt64(100)..<125))
    func windowMergeLaws(seed: UInt64) {
        let updates = Self.randomUpdates(seed: seed, windows: 40...44)
        let expected = Self.expectedMax(updates)
        let top = updates.map(\.windowIndex).max()!
        var rng = SeededGenerator(seed: seed)

        var results: [SlidingWindow] = []
        for round in 0..<4 {
            var window = SlidingWindow()
            let order = round == 0 ? updates : updates.shuffled(using: &rng)
            Self.apply(order, to: &window)
            if round == 3 { Self.apply(updates.shuffled(using: &rng), to: &window) }
            results.append(window)
        }
        for window in results {
            #expect(window.current.index == top)
            #expect(window.previous.index == top - 1)
            for node in NodeOrdinal(0)..<6 {
                #expect(window.current.count(of: node) == expected[top]?[node] ?? 0)
                #expect(window.previous.count(of: node) == expected[top - 1]?[node] ?? 0)
            }
        }
    }

    @Test("peers' slots count against the limit")
    func peerSlotsCount() {
        let windowMs: Int64 = 1000
        let index = Fixture.t0 / windowMs
        var window = SlidingWindow()
        window.merge(windowIndex: index, node: 1, count: 6)
        window.merge(windowIndex: index, node: 2, count: 3)
        var check = window.check(cost: 1, limit: 10, windowMs: windowMs, nowMs: Fixture.t0 + 1)
        #expect(check.allowed)
        #expect(check.remaining == 0)
        window.record(cost: 1)
        check = window.check(cost: 1, limit: 10, windowMs: windowMs, nowMs: Fixture.t0 + 2)
        #expect(!check.allowed)
        #expect(window.current.own == 1)
        #expect(window.current.total == 10)
    }

    @Test("a restarted node gets its own slot back from a peer's copy and counts on from it")
    func ownSlotRecovery() {
        let windowMs: Int64 = 60_000
        let index = Fixture.t0 / windowMs
        var window = SlidingWindow()
        window.merge(windowIndex: index, node: 0, count: 40)
        window.merge(windowIndex: index, node: 0, count: 12)
        _ = window.check(cost: 1, limit: 100, windowMs: windowMs, nowMs: Fixture.t0 + 5)
        window.record(cost: 1)
        #expect(window.current.own == 41)
    }
}
