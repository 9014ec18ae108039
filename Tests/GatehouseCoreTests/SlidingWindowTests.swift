import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Sliding window counter math")
struct SlidingWindowTests {
    static let windowMs: Int64 = 1000
    /// Start of a fixed window (t0 is a multiple of every window length used here).
    static let start = Fixture.t0

    /// A window whose previous fixed window holds `previous` and whose current one (starting at
    /// `currentStart`) holds `current`, all counted by this node.
    static func filled(previous: Int64, current: Int64, currentStart: Int64 = start, windowMs: Int64 = windowMs) -> SlidingWindow {
        var window = SlidingWindow()
        window.advance(nowMs: currentStart - windowMs, windowMs: windowMs)
        window.record(cost: previous)
        window.advance(nowMs: currentStart, windowMs: windowMs)
        window.record(cost: current)
        return window
    }

    /// Whether `cost` would be admitted at `nowMs`, probed on a copy so nothing changes.
    static func admits(_ window: SlidingWindow, cost: Int64, limit: Int64, windowMs: Int64 = windowMs, at nowMs: Int64) -> Bool {
        var copy = window
        return copy.check(cost: cost, limit: limit, windowMs: windowMs, nowMs: nowMs).allowed
    }

    @Test("a fresh window admits exactly `limit` requests, counting remaining down")
    func fillsToLimit() {
        var window = SlidingWindow()
        for step in Int64(0)..<5 {
            let check = window.check(cost: 1, limit: 5, windowMs: Self.windowMs, nowMs: Self.start + 10 + step)
            #expect(check.allowed)
            #expect(check.remaining == 4 - step)
            #expect(check.retryAfterMs == 0)
            #expect(check.limit == 5)
            window.record(cost: 1)
        }
        let refused = window.check(cost: 1, limit: 5, windowMs: Self.windowMs, nowMs: Self.start + 20)
        #expect(!refused.allowed)
        #expect(refused.remaining == 0)
        #expect(refused.retryAfterMs > 0)
    }

    @Test("check alone does not count")
    func checkDoesNotCount() {
        var window = SlidingWindow()
        for step in Int64(0)..<50 {
            #expect(window.check(cost: 1, limit: 1, windowMs: Self.windowMs, nowMs: Self.start + step).allowed)
        }
        #expect(window.current.total == 0)
        #expect(window.estimate(nowMs: Self.start + 50, windowMs: Self.windowMs) == 0)
    }

    @Test("exactly at the window boundary the previous window still weighs 100%")
    func exactlyAtBoundary() {
        var window = Self.filled(previous: 0, current: 10)
        #expect(!Self.admits(window, cost: 1, limit: 10, at: Self.start + 999))
        let atEdge = window.check(cost: 1, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + 1000)
        #expect(!atEdge.allowed)
        #expect(atEdge.resetMs == 1000)
        #expect(window.previous.total == 10)
        #expect(window.current.total == 0)
        #expect(window.estimate(nowMs: Self.start + 1000, windowMs: Self.windowMs) == 10)
        // One millisecond later the previous window has started to fade.
        #expect(window.estimate(nowMs: Self.start + 1001, windowMs: Self.windowMs) < 10)
        #expect(Self.admits(window, cost: 0, limit: 10, at: Self.start + 1001))
    }

    @Test("the previous window is weighted by its remaining overlap", arguments: [
        (Int64(0), 1000.0, Int64(999)),
        (250, 750.0, 1249),
        (500, 500.0, 1499),
        (999, 1.0, 1998),
    ])
    func previousWindowWeight(elapsed: Int64, estimate: Double, remaining: Int64) {
        var window = Self.filled(previous: 1000, current: 0)
        let check = window.check(cost: 1, limit: 2000, windowMs: Self.windowMs, nowMs: Self.start + elapsed)
        #expect(abs(window.estimate(nowMs: Self.start + elapsed, windowMs: Self.windowMs) - estimate) < 1e-9)
        #expect(check.allowed)
        #expect(check.remaining == remaining)
        #expect(check.resetMs == 1000 - elapsed)
    }

    @Test("previous and current windows add up", arguments: [(Int64(0), 30.0), (500, 25.0), (900, 21.0)])
    func previousPlusCurrent(elapsed: Int64, estimate: Double) {
        var window = Self.filled(previous: 10, current: 20)
        _ = window.check(cost: 0, limit: 100, windowMs: Self.windowMs, nowMs: Self.start + elapsed)
        #expect(abs(window.estimate(nowMs: Self.start + elapsed, windowMs: Self.windowMs) - estimate) < 1e-9)
    }

    @Test("a gap of more than one window resets the count", arguments: [Int64(2000), 2001, 5000, 1_000_000])
    func gapResets(later: Int64) {
        var window = Self.filled(previous: 7, current: 10)
        let check = window.check(cost: 1, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + later)
        #expect(check.allowed)
        #expect(check.remaining == 9)
        #expect(window.previous.total == 0)
        #expect(window.current.total == 0)
    }

    @Test("one window later the old current window becomes the previous one")
    func oneWindowLater() {
        var window = Self.filled(previous: 7, current: 10)
        _ = window.check(cost: 0, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + 1999)
        #expect(window.previous.total == 10)
        #expect(abs(window.estimate(nowMs: Self.start + 1999, windowMs: Self.windowMs) - 0.01) < 1e-9)
    }

    @Test("reset_ms counts down to the end of the current fixed window, also before 1970")
    func resetMs() {
        var window = SlidingWindow()
        #expect(window.check(cost: 1, limit: 5, windowMs: 1000, nowMs: Self.start).resetMs == 1000)
        #expect(window.check(cost: 1, limit: 5, windowMs: 1000, nowMs: Self.start + 250).resetMs == 750)
        #expect(window.check(cost: 1, limit: 5, windowMs: 1000, nowMs: Self.start + 999).resetMs == 1)
        var negative = SlidingWindow()
        #expect(negative.check(cost: 1, limit: 5, windowMs: 1000, nowMs: -1).resetMs == 1)
        #expect(negative.check(cost: 1, limit: 5, windowMs: 1000, nowMs: -1000).resetMs == 1000)
        var older = SlidingWindow()
        #expect(older.check(cost: 1, limit: 5, windowMs: 1000, nowMs: -1750).resetMs == 750)
    }

    @Test("retry_after while the previous window decays: admitted exactly at now+retry, not 1 ms before")
    func retryAfterWithinWindow() {
        // previous 8, current 4, limit 10: at 20% in, 8*0.8 + 4 + 1 = 11.4 > 10.
        let window = Self.filled(previous: 8, current: 4)
        var probe = window
        let now = Self.start + 200
        let check = probe.check(cost: 1, limit: 10, windowMs: Self.windowMs, nowMs: now)
        #expect(!check.allowed)
        #expect(check.remaining == 0)
        // 8*(1000-e)/1000 + 4 + 1 <= 10  <=>  e >= 375.
        #expect(check.retryAfterMs == 175)
        #expect(Self.admits(window, cost: 1, limit: 10, at: now + check.retryAfterMs))
        #expect(!Self.admits(window, cost: 1, limit: 10, at: now + check.retryAfterMs - 1))
    }

    @Test("retry_after across the window edge: today's count becomes the decaying previous window")
    func retryAfterAcrossEdge() {
        let window = Self.filled(previous: 0, current: 10)
        var probe = window
        let now = Self.start + 400
        let check = probe.check(cost: 2, limit: 10, windowMs: Self.windowMs, nowMs: now)
        #expect(!check.allowed)
        // 600 ms to the edge, then 10*(1000-x)/1000 + 2 <= 10  <=>  x >= 200.
        #expect(check.retryAfterMs == 800)
        #expect(Self.admits(window, cost: 2, limit: 10, at: now + 800))
        #expect(!Self.admits(window, cost: 2, limit: 10, at: now + 799))
    }

    @Test("a cost equal to the limit waits until the full window has decayed")
    func costEqualToLimit() {
        let window = Self.filled(previous: 0, current: 10)
        var probe = window
        let now = Self.start + 400
        let check = probe.check(cost: 10, limit: 10, windowMs: Self.windowMs, nowMs: now)
        #expect(!check.allowed)
        #expect(check.retryAfterMs == 1600)
        #expect(Self.admits(window, cost: 10, limit: 10, at: now + 1600))
        #expect(!Self.admits(window, cost: 10, limit: 10, at: now + 1599))
    }

    @Test("a cost above 1 uses up several units at once")
    func costAboveOne() {
        var window = Self.filled(previous: 0, current: 8)
        let tooMuch = window.check(cost: 3, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + 1)
        #expect(!tooMuch.allowed)
        #expect(tooMuch.remaining == 2)
        let fits = window.check(cost: 2, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + 1)
        #expect(fits.allowed)
        #expect(fits.remaining == 0)
        window.record(cost: 2)
        #expect(window.current.total == 10)
        #expect(!Self.admits(window, cost: 1, limit: 10, at: Self.start + 2))
    }

    @Test("a cost above the limit never fits, even in an empty window, and says two windows")
    func costAboveLimit() {
        var window = SlidingWindow()
        let now = Self.start + 123
        let check = window.check(cost: 11, limit: 10, windowMs: Self.windowMs, nowMs: now)
        #expect(!check.allowed)
        #expect(check.remaining == 10)
        #expect(check.retryAfterMs == 2 * Self.windowMs)
        for later in [Int64(0), 2000, 10_000, 1_000_000] {
            #expect(!Self.admits(window, cost: 11, limit: 10, at: now + later))
        }
        #expect(Self.admits(window, cost: 10, limit: 10, at: now))
    }

    @Test("a zero cost is admitted while at the limit and changes nothing")
    func zeroCost() {
        var window = Self.filled(previous: 0, current: 10)
        let check = window.check(cost: 0, limit: 10, windowMs: Self.windowMs, nowMs: Self.start + 5)
        #expect(check.allowed)
        #expect(check.remaining == 0)
    }

    @Test("retry_after is the exact earliest admission time (within 1 ms rounding), over many random states",
          arguments: [UInt64(1), 2, 3, 4])
    func retryAfterProperty(seedBase: UInt64) {
        var refusals = 0
        var exact = 0
        for seed in 0..<400 {
            var rng = SeededGenerator(seed: seedBase &* 1_000_003 &+ UInt64(seed))
            let windowMs = Int64.random(in: 2...100_000, using: &rng)
            let limit = Int64.random(in: 1...500, using: &rng)
            let previous = Int64.random(in: 0...(2 * limit), using: &rng)
            let current = Int64.random(in: 0...(limit + 2), using: &rng)
            let cost = Int64.random(in: 1...limit, using: &rng)
            let elapsed = Int64.random(in: 0..<windowMs, using: &rng)
            let currentStart = (Fixture.t0 / windowMs) * windowMs
            let window = Self.filled(previous: previous, current: current, currentStart: currentStart, windowMs: windowMs)
            let now = currentStart + elapsed
            var probe = window
            let check = probe.check(cost: cost, limit: limit, windowMs: windowMs, nowMs: now)
            guard !check.allowed else { continue }
            refusals += 1
            let retry = check.retryAfterMs
            #expect(retry >= 1)
            #expect(retry <= 2 * windowMs)
            func admits(_ at: Int64) -> Bool {
                Self.admits(window, cost: cost, limit: limit, windowMs: windowMs, at: at)
            }
            let state = "W=\(windowMs) L=\(limit) prev=\(previous) cur=\(current) cost=\(cost) e=\(elapsed) retry=\(retry)"
            if admits(now + retry) && (retry == 1 || !admits(now + retry - 1)) {
                exact += 1
            } else {
                #expect(admits(now + retry + 1), "too early: \(state)")
                #expect(retry <= 2 || !admits(now + retry - 2), "too late: \(state)")
            }
        }
        #expect(refusals > 100, "the random states must exercise refusals")
        #expect(exact == refusals, "exact in \(exact) of \(refusals)")
    }

    @Test("both windows expire only once two fixed windows have passed")
    func expiry() {
        var window = SlidingWindow()
        _ = window.check(cost: 1, limit: 5, windowMs: Self.windowMs, nowMs: Self.start + 500)
        window.record(cost: 1)
        #expect(!window.isExpired(nowMs: Self.start + 999, windowMs: Self.windowMs))
        #expect(!window.isExpired(nowMs: Self.start + 1999, windowMs: Self.windowMs))
        #expect(window.isExpired(nowMs: Self.start + 2000, windowMs: Self.windowMs))
    }

    @Test("time going backwards inside a window keeps the counts")
    func backwardsWithinWindow() {
        var window = Self.filled(previous: 0, current: 5)
        _ = window.check(cost: 0, limit: 5, windowMs: Self.windowMs, nowMs: Self.start + 900)
        #expect(!Self.admits(window, cost: 1, limit: 5, at: Self.start + 100))
        #expect(window.current.total == 5)
    }
}
