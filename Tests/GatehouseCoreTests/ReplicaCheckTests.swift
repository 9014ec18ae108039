import GatehouseCore
import GatehouseTestKit
import Testing

/// Records and counter slots from peers are held to the admin API's rules and to bounds of
/// their own: a skewed or hostile member can neither trap a node, freeze a window nor win
/// every later merge.
@Suite("Replica checks")
struct ReplicaCheckTests {
    static let now = Fixture.t0
    static let skew: Int64 = 5_000

    static func record(_ change: (inout KeyRecord) -> Void = { _ in }) throws -> KeyRecord {
        var random = SeededGenerator(seed: 3)
        var record = try KeyLifecycle.create(
            KeyDraft(name: "remote", owner: "acct", scopes: ["read"]), defaultLimits: [.defaultHourly], hasher: Fixture.hasher,
            nowMs: now, version: Fixture.version(now, node: "n2"), using: &random).record
        change(&record)
        return record
    }

    static func rejection(_ record: KeyRecord) -> ReplicaCheck.Rejection? {
        ReplicaCheck.rejection(of: record, nowMs: now, maxClockSkewMs: skew)
    }

    @Test func aRecordTheAdminAPIWouldTakeIsAccepted() throws {
        #expect(Self.rejection(try Self.record()) == nil)
        #expect(Self.rejection(try Self.record { $0.version.wallMs = Self.now + Self.skew }) == nil)
        // Expired long ago, or revoked: still a valid record to hold.
        #expect(Self.rejection(try Self.record { $0.expiresAt = 1; $0.revokedAt = Self.now }) == nil)
    }

    @Test func aVersionFurtherAheadThanTheSkewBoundIsRefused() throws {
        #expect(Self.rejection(try Self.record { $0.version.wallMs = Self.now + Self.skew + 1 }) == .clockSkew)
        #expect(Self.rejection(try Self.record { $0.version = HybridTimestamp(wallMs: .max, logical: .max, node: "n2") }) == .clockSkew)
        #expect(Self.rejection(try Self.record { $0.creditsSetAt = Fixture.version(Self.now + 3_600_000, node: "n2") }) == .clockSkew)
        // A skew bound near Int64.max must not overflow into accepting nothing or everything.
        #expect(ReplicaCheck.rejection(of: try Self.record(), nowMs: Self.now, maxClockSkewMs: .max) == nil)
    }

    @Test(arguments: [
        "window 0", "negative limit", "1000 scopes", "control character in name", "oversized meta", "empty id",
        "negative version", "empty version node", "too many retired secrets", "negative credits",
    ])
    func whatTheAdminAPIRefusesIsRefusedFromAPeerToo(_ case: String) throws {
        let record = try Self.record { record in
            switch `case` {
            case "window 0": record.limits = [RateLimit(name: "w", limit: 10, windowMs: 0)]
            case "negative limit": record.limits = [RateLimit(name: "w", limit: -1, windowMs: 1000)]
            case "1000 scopes": record.scopes = (0..<1000).map { "s\($0)" }
            case "control character in name": record.name = "a\u{1}b"
            case "oversized meta": record.meta = ["k": String(repeating: "x", count: 5000)]
            case "empty id": record.id = ""
            case "negative version": record.version.wallMs = -1
            case "empty version node": record.version.node = ""
            case "too many retired secrets":
                record.retiredSecrets = (0..<5).map { RetiredSecret(lookup: Fixture.hasher.hash("s\($0)"), start: "gk_", validUntil: 1) }
            default: record.credits = -5
            }
        }
        #expect(Self.rejection(record) == .invalidRecord)
    }

    @Test func counterSlotsFarFromNowOrWithCountsThatCouldOverflowAreRefused() {
        let bucket = CounterBucket.keyLimit(keyID: "key_a", limit: "minute", windowMs: 60_000)
        let current = Self.now / 60_000
        for window in [current - 1, current, current + 1] {
            #expect(ReplicaCheck.accepts(CounterSlot(bucket: bucket, windowIndex: window, count: 5), nowMs: Self.now))
        }
        for window in [current - 2, current + 2, .max, .min, 0] {
            #expect(!ReplicaCheck.accepts(CounterSlot(bucket: bucket, windowIndex: window, count: 5), nowMs: Self.now))
        }
        for count in [-1, ReplicaCheck.maxCount + 1, .max, .min] as [Int64] {
            #expect(!ReplicaCheck.accepts(CounterSlot(bucket: bucket, windowIndex: current, count: count), nowMs: Self.now))
        }
        for windowMs in [0, -1, KeyRules.maxWindowMs + 1, .max] as [Int64] {
            let throttle = CounterBucket.throttle(name: "ip:1", windowMs: windowMs)
            #expect(!ReplicaCheck.accepts(CounterSlot(bucket: throttle, windowIndex: 0, count: 1), nowMs: Self.now))
        }
    }

    /// A far-future window from a peer used to move the node's window there and freeze it.
    @Test func aFarFutureWindowFromAPeerNeitherCountsNorFreezesTheKey() throws {
        var random = SeededGenerator(seed: 5)
        let created = try KeyLifecycle.create(
            KeyDraft(limits: [RateLimit(name: "minute", limit: 10, windowMs: 60_000)]), defaultLimits: [], hasher: Fixture.hasher,
            nowMs: Self.now, version: Fixture.version(Self.now), using: &random)
        var keeper = Gatekeeper(hasher: Fixture.hasher)
        keeper.apply(created.record)
        let hostile = CounterSlot(
            bucket: .keyLimit(keyID: created.record.id, limit: "minute", windowMs: 60_000), windowIndex: Self.now / 60_000 + 1_000_000,
            count: ReplicaCheck.maxCount)
        #expect(keeper.mergeCounters([hostile], from: 1, nowMs: Self.now).isEmpty)
        for _ in 0..<10 { #expect(keeper.verify(key: created.secret, VerifyRequest(), nowMs: Self.now).code == .valid) }
        #expect(keeper.verify(key: created.secret, VerifyRequest(), nowMs: Self.now).code == .rateLimited)
        #expect(keeper.verify(key: created.secret, VerifyRequest(), nowMs: Self.now + 120_000).code == .valid)
    }

    /// The largest values of every version field: ticking and observing never trap.
    @Test func theHybridClockNeverTrapsOnExtremeValues() {
        var clock = HybridClock(node: "n1")
        clock.observe(HybridTimestamp(wallMs: .max, logical: .max, node: "n2"), nowMs: .max)
        _ = clock.tick(nowMs: .max)
        _ = clock.tick(nowMs: .min)
        clock.observe(HybridTimestamp(wallMs: .min, logical: .max, node: ""), nowMs: 0)
        #expect(clock.last.wallMs == .max)
    }
}
