import GatehouseCore
import GatehouseTestKit
import Testing

@Suite("Security event detection and aggregation")
struct SecurityEventDetectorTests {
    static func detector(burst: Int64 = 5, capacity: Int = 100) -> SecurityEventDetector {
        var settings = SecurityEventDetector.Settings()
        settings.burstThreshold = burst
        settings.capacity = capacity
        return SecurityEventDetector(node: "n1", settings: settings)
    }

    static let origin = SecurityEventDetector.Origin(sourceIP: "192.0.2.7", requestID: "rid-1")

    @Test("rate-limit refusals of a key become one event per minute with their count")
    func rateLimitAggregated() {
        let clock = ManualClock(startMs: 1_800_000_000_000)
        var detector = Self.detector()
        var origins = 0
        for n in 0..<1_000 {
            let event = detector.verified(.rateLimited, keyID: "key_a", source: nil, nowMs: clock.nowMs) {
                origins += 1
                return .init(sourceIP: "192.0.2.\(n % 250)", requestID: "rid-\(n)")
            }
            #expect(event == nil)
        }
        _ = detector.verified(.usageExceeded, keyID: "key_b", source: nil, nowMs: clock.nowMs) { Self.origin }
        #expect(origins == 1, "the origin is read for a window's first refusal only")
        #expect(detector.tick(nowMs: clock.nowMs) { _ in false }.isEmpty, "nothing before the minute ends")
        clock.advance(byMs: 60_000)
        let events = detector.tick(nowMs: clock.nowMs) { _ in false }.sorted { $0.keyID! < $1.keyID! }
        #expect(events.map(\.type) == [.rateLimited, .rateLimited])
        #expect(events[0].keyID == "key_a" && events[0].count == 1_000)
        #expect(events[0].requestID == "rid-0" && events[0].sourceIP == "192.0.2.0")
        let windowStart: Int64 = 1_800_000_000_000 / 60_000 * 60_000
        #expect(events[0].windowStartMs == windowStart)
        #expect(events[1].keyID == "key_b" && events[1].count == 1)
        #expect(detector.tick(nowMs: clock.nowMs + 60_000) { _ in false }.isEmpty, "each window is reported once")
    }

    @Test("a refusal in a later minute closes the earlier minute's count")
    func laterMinute() {
        var detector = Self.detector()
        let t0: Int64 = 1_800_000_000_000 / 60_000 * 60_000
        for _ in 0..<3 { _ = detector.verified(.rateLimited, keyID: "key_a", source: nil, nowMs: t0) { Self.origin } }
        _ = detector.verified(.rateLimited, keyID: "key_a", source: nil, nowMs: t0 + 60_000) { Self.origin }
        let first = detector.tick(nowMs: t0 + 60_001) { _ in false }
        #expect(first.map(\.count) == [3])
        #expect(detector.tick(nowMs: t0 + 120_000) { _ in false }.map(\.count) == [1])
    }

    @Test("unknown and malformed keys from one source make one burst event per window at the threshold")
    func burst() {
        let clock = ManualClock()
        var detector = Self.detector(burst: 5)
        let source = SourceIdentity(high: 0, low: 7)
        var events: [SecurityEvent] = []
        for n in 0..<12 {
            if let event = detector.verified(n % 2 == 0 ? .notFound : .malformed, keyID: nil, source: source, nowMs: clock.nowMs, origin: {
                .init(sourceIP: "192.0.2.7", requestID: "rid-\(n)")
            }) { events.append(event) }
        }
        #expect(events.count == 1)
        #expect(events.first?.type == .keyGuessingBurst)
        #expect(events.first?.requestID == "rid-4")
        #expect(events.first?.sourceIP == "192.0.2.7")
        let other = SourceIdentity(high: 0, low: 8)
        for _ in 0..<4 { #expect(detector.verified(.notFound, keyID: nil, source: other, nowMs: clock.nowMs) { Self.origin } == nil) }
        #expect(detector.verified(.notFound, keyID: nil, source: nil, nowMs: clock.nowMs) { Self.origin } == nil)
        clock.advance(byMs: 60_000)
        _ = detector.tick(nowMs: clock.nowMs) { _ in false }
        var again = 0
        for _ in 0..<5 where detector.verified(.notFound, keyID: nil, source: source, nowMs: clock.nowMs, origin: { Self.origin }) != nil { again += 1 }
        #expect(again == 1, "a new window can burst again")
    }

    @Test("a revoked, disabled or expired key in use, and a scope refusal: once per key, source and window")
    func keyInUse() {
        let clock = ManualClock()
        var detector = Self.detector()
        let a = SourceIdentity(high: 0, low: 1)
        let b = SourceIdentity(high: 0, low: 2)
        let cases: [(VerifyCode, SecurityEventType)] = [
            (.revoked, .keyRevokedInUse), (.disabled, .keyDisabledInUse), (.expired, .keyExpiredInUse), (.insufficientScope, .scopeRefused),
        ]
        for (code, type) in cases {
            let first = detector.verified(code, keyID: "key_1", source: a, nowMs: clock.nowMs) { Self.origin }
            #expect(first?.type == type)
            #expect(first?.keyID == "key_1" && first?.sourceIP == "192.0.2.7" && first?.requestID == "rid-1")
            #expect(detector.verified(code, keyID: "key_1", source: a, nowMs: clock.nowMs) { Self.origin } == nil)
            #expect(detector.verified(code, keyID: "key_1", source: b, nowMs: clock.nowMs) { Self.origin }?.type == type)
        }
        clock.advance(byMs: 60_000)
        #expect(detector.verified(.revoked, keyID: "key_1", source: a, nowMs: clock.nowMs) { Self.origin }?.type == .keyRevokedInUse)
        #expect(detector.verified(.valid, keyID: "key_1", source: a, nowMs: clock.nowMs) { Self.origin } == nil)
    }

    @Test("a source is reported throttled once and released when the throttle lets it go")
    func throttledAndReleased() {
        let clock = ManualClock()
        var detector = Self.detector()
        let source = SourceIdentity(high: 0, low: 9)
        #expect(detector.verified(.sourceThrottled, keyID: nil, source: source, nowMs: clock.nowMs) { Self.origin }?.type == .sourceThrottled)
        #expect(detector.sourceThrottled(source, nowMs: clock.nowMs) { Self.origin } == nil)
        #expect(detector.tick(nowMs: clock.nowMs) { _ in true }.isEmpty)
        clock.advance(byMs: 120_000)
        let released = detector.tick(nowMs: clock.nowMs) { _ in false }
        #expect(released.map(\.type) == [.sourceReleased])
        #expect(released.first?.sourceIP == "192.0.2.7")
        #expect(detector.throttledSources == 0)
        #expect(detector.sourceThrottled(source, nowMs: clock.nowMs) { Self.origin }?.type == .sourceThrottled, "throttled again later: a new event")
    }

    @Test("gossip authentication failures: once per address and window")
    func gossip() {
        var detector = Self.detector()
        let t0: Int64 = 1_800_000_000_000
        #expect(detector.gossipAuthFailed(from: "10.0.0.9:7946", nowMs: t0)?.type == .gossipAuthFailed)
        #expect(detector.gossipAuthFailed(from: "10.0.0.9:7946", nowMs: t0 + 1) == nil)
        #expect(detector.gossipAuthFailed(from: "10.0.0.8:7946", nowMs: t0 + 1) != nil)
        #expect(detector.gossipAuthFailed(from: "10.0.0.9:7946", nowMs: t0 + 60_000) != nil)
    }

    @Test("a full tally drops new keys instead of growing")
    func bounded() {
        var tally = WindowTally<Int, Void>(windowMs: 1_000, capacity: 3)
        for key in 0..<3 { #expect(tally.add(key, nowMs: 0, note: {}) == 1) }
        #expect(tally.add(99, nowMs: 10, note: {}) == 0)
        #expect(tally.add(98, nowMs: 20, note: {}) == 0)
        #expect(tally.dropped == 2)
        #expect(tally.add(1, nowMs: 10, note: {}) == 2, "keys held still count")
        #expect(tally.add(99, nowMs: 1_000, note: {}) == 1, "windows that ended make room")
        #expect(tally.close(nowMs: 1_000).map(\.count).sorted() == [1, 1, 2])
    }

    @Test("every event type has an ECS classification")
    func classification() {
        for type in SecurityEventType.allCases {
            #expect(["alert", "event"].contains(type.kind))
            #expect(!type.category.isEmpty && !type.ecsType.isEmpty)
            #expect(["success", "failure", "unknown"].contains(type.outcome))
        }
    }
}
