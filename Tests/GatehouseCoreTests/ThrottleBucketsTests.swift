import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Free-form throttle buckets with a capacity cap and LRU eviction")
struct ThrottleBucketsTests {
    static let windowMs: Int64 = 1000
    static let t0 = Fixture.t0

    static func key(_ name: String, windowMs: Int64 = windowMs) -> BucketKey {
        BucketKey(name: name, windowMs: windowMs)
    }

    @Test("a bucket admits up to its limit, and refused hits are not counted")
    func limitsOneBucket() {
        var buckets = ThrottleBuckets(capacity: 10)
        for step in Int64(0)..<3 {
            let check = buckets.hit(Self.key("ip:1"), limit: 3, cost: 1, nowMs: Self.t0 + step)
            #expect(check.allowed)
            #expect(check.remaining == 2 - step)
        }
        for step in Int64(0)..<5 {
            #expect(!buckets.hit(Self.key("ip:1"), limit: 3, cost: 1, nowMs: Self.t0 + 10 + step).allowed)
        }
        #expect(buckets.window(for: Self.key("ip:1"))?.current.total == 3)
        #expect(buckets.evictions == 0)
    }

    @Test("buckets are independent by name and by window length")
    func independentBuckets() {
        var buckets = ThrottleBuckets(capacity: 10)
        #expect(buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0).allowed)
        #expect(!buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0).allowed)
        #expect(buckets.hit(Self.key("b"), limit: 1, cost: 1, nowMs: Self.t0).allowed)
        #expect(buckets.hit(Self.key("a", windowMs: 60_000), limit: 1, cost: 1, nowMs: Self.t0).allowed)
        #expect(buckets.count == 3)
    }

    @Test("at capacity a new bucket evicts the least recently used one, says so, and is counted")
    func capacityEvictsLeastRecentlyUsed() {
        var buckets = ThrottleBuckets(capacity: 2)
        #expect(!buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0).evicted)
        #expect(!buckets.hit(Self.key("b"), limit: 1, cost: 1, nowMs: Self.t0).evicted)
        // "a" is used again, so "b" is now the least recently used.
        #expect(!buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0 + 1).allowed)
        let first = buckets.hit(Self.key("c"), limit: 1, cost: 1, nowMs: Self.t0 + 1)
        #expect(first.allowed)
        #expect(first.evicted)
        #expect(buckets.evictions == 1)
        #expect(buckets.count == 2)
        #expect(buckets.window(for: Self.key("b")) == nil)
        // The new bucket is counted: its limit holds like any other's.
        let second = buckets.hit(Self.key("c"), limit: 1, cost: 1, nowMs: Self.t0 + 2)
        #expect(!second.allowed)
        #expect(!second.evicted)
        #expect(!buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0 + 2).allowed)
    }

    @Test("a client filling the table with long windows cannot make new buckets uncounted")
    func longWindowsCannotSwitchItOff() {
        let capacity = 100
        var buckets = ThrottleBuckets(capacity: capacity)
        for index in 0..<(10 * capacity) {
            _ = buckets.hit(Self.key("filler:\(index)", windowMs: 86_400_000), limit: 1_000, cost: 1, nowMs: Self.t0 + Int64(index))
        }
        #expect(buckets.count == capacity)
        #expect(buckets.evictions == 9 * capacity)
        let now = Self.t0 + Int64(10 * capacity)
        for attempt in 0..<3 {
            let answer = buckets.hit(Self.key("victim"), limit: 2, cost: 1, nowMs: now + Int64(attempt))
            #expect(answer.allowed == (attempt < 2), "hit \(attempt) of a limit of 2")
        }
        #expect(buckets.window(for: Self.key("victim"))?.current.total == 2)
    }

    @Test("a hit at capacity sweeps expired buckets first, evicting nothing live")
    func hitSweepsAtCapacity() {
        var buckets = ThrottleBuckets(capacity: 2)
        _ = buckets.hit(Self.key("a"), limit: 1, cost: 1, nowMs: Self.t0)
        _ = buckets.hit(Self.key("b"), limit: 1, cost: 1, nowMs: Self.t0)
        // Two windows later both have ended: the sweep makes room.
        let check = buckets.hit(Self.key("c"), limit: 1, cost: 1, nowMs: Self.t0 + 2000)
        #expect(check.allowed)
        #expect(!check.evicted)
        #expect(buckets.evictions == 0)
        #expect(buckets.count == 1)
        #expect(buckets.window(for: Self.key("c"))?.current.total == 1)
    }

    @Test("sweep drops only buckets whose windows have both ended")
    func sweep() {
        var buckets = ThrottleBuckets(capacity: 10)
        _ = buckets.hit(Self.key("old"), limit: 5, cost: 1, nowMs: Self.t0)
        _ = buckets.hit(Self.key("long", windowMs: 60_000), limit: 5, cost: 1, nowMs: Self.t0)
        _ = buckets.hit(Self.key("recent"), limit: 5, cost: 1, nowMs: Self.t0 + 1500)
        buckets.sweep(nowMs: Self.t0 + 1999)
        #expect(buckets.count == 3)
        buckets.sweep(nowMs: Self.t0 + 2000)
        #expect(buckets.count == 2)
        #expect(buckets.window(for: Self.key("old")) == nil)
        #expect(buckets.window(for: Self.key("recent")) != nil)
        #expect(buckets.window(for: Self.key("long", windowMs: 60_000)) != nil)
        buckets.sweep(nowMs: Self.t0 + 120_000)
        #expect(buckets.count == 0)
    }

    @Test("merging a slot for a new bucket at capacity evicts the least recently used one")
    func mergeAtCapacity() {
        var buckets = ThrottleBuckets(capacity: 1)
        buckets.merge(Self.key("a"), windowIndex: Self.t0 / Self.windowMs, node: 1, count: 3)
        #expect(buckets.count == 1)
        buckets.merge(Self.key("b"), windowIndex: Self.t0 / Self.windowMs, node: 1, count: 3)
        #expect(buckets.count == 1)
        #expect(buckets.evictions == 1)
        #expect(buckets.window(for: Self.key("a")) == nil)
        buckets.merge(Self.key("b"), windowIndex: Self.t0 / Self.windowMs, node: 2, count: 4)
        #expect(buckets.window(for: Self.key("b"))?.current.total == 7)
        #expect(!buckets.hit(Self.key("b"), limit: 7, cost: 1, nowMs: Self.t0).allowed)
    }

    @Test("Gatekeeper.throttle answers from the same buckets")
    func gatekeeperThrottle() {
        var harness = Harness(settings: Gatekeeper.Settings(throttleBucketCapacity: 8))
        let first = harness.keeper.throttle(bucket: "user:9", limit: 2, windowMs: 60_000, cost: 1, nowMs: Self.t0 + 15_000)
        #expect(first.allowed)
        #expect(first.limit == 2)
        #expect(first.remaining == 1)
        #expect(first.resetMs == 45_000)
        #expect(first.retryAfterMs == 0)
        #expect(harness.keeper.throttle(bucket: "user:9", limit: 2, windowMs: 60_000, cost: 1, nowMs: Self.t0 + 15_001).allowed)
        let refused = harness.keeper.throttle(bucket: "user:9", limit: 2, windowMs: 60_000, cost: 1, nowMs: Self.t0 + 15_002)
        #expect(!refused.allowed)
        #expect(refused.retryAfterMs > 0)
        #expect(harness.keeper.throttleBuckets.count == 1)
        harness.keeper.sweep(nowMs: Self.t0 + 120_000)
        #expect(harness.keeper.throttleBuckets.count == 0)
    }
}
