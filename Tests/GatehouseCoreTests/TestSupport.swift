import GatehouseCore
import GatehouseTestKit
import Testing

/// Shared fixtures for the core tests. Time is always an explicit `nowMs` (the injected
/// fake clock); randomness always comes from a `SeededGenerator`.
enum Fixture {
    /// A start time aligned to every window length the tests use (1 s, 1 min, 1 h).
    static let t0: Int64 = 1_800_000_000_000

    static let pepper: [UInt8] = (0..<32).map { UInt8($0) &* 7 &+ 3 }
    static let hasher = LookupHasher(pepper: pepper)

    static func version(_ wallMs: Int64, _ logical: UInt32 = 0, node: String = "n1") -> HybridTimestamp {
        HybridTimestamp(wallMs: wallMs, logical: logical, node: node)
    }

    static func source(_ n: UInt64) -> SourceIdentity {
        SourceIdentity(high: 0xFFFF_0000_0000 | n, low: n &* 0x9E37_79B9)
    }

    /// A key string with a correct checksum over whatever prefix/separator/body bytes are given,
    /// so negative tests fail for the reason they name and not for a bad checksum.
    static func forge(_ head: String) -> String {
        let bytes = Array(head.utf8)
        let crc = CRC32.checksum(bytes)
        return head + String(decoding: Base62.fixedWidth(UInt64(crc), width: APIKeyFormat.checksumLength), as: UTF8.self)
    }

    static func randomDigits(_ count: Int, seed: UInt64) -> String {
        var rng = SeededGenerator(seed: seed)
        return String(decoding: Base62.random(count: count, using: &rng), as: UTF8.self)
    }
}

/// Captures the `KeyError` a throwing call raises, or `nil` when it does not throw.
/// Any other error is recorded as a test failure.
func keyError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) -> KeyError? {
    do {
        _ = try body()
        return nil
    } catch let error as KeyError {
        return error
    } catch {
        Issue.record("expected a KeyError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A gatekeeper plus the randomness and clock a shell would own, for decision tests.
struct Harness {
    var keeper: Gatekeeper
    var rng: SeededGenerator
    var clock = HybridClock(node: "n1")

    init(seed: UInt64 = 1, settings: Gatekeeper.Settings = Gatekeeper.Settings()) {
        keeper = Gatekeeper(hasher: Fixture.hasher, settings: settings)
        rng = SeededGenerator(seed: seed)
    }

    /// Creates a key at `nowMs` and installs it.
    mutating func create(
        _ draft: KeyDraft = KeyDraft(owner: "acct_1"), defaultLimits: [RateLimit] = [], nowMs: Int64 = Fixture.t0
    ) throws -> (record: KeyRecord, secret: String) {
        let created = try KeyLifecycle.create(
            draft, defaultLimits: defaultLimits, hasher: Fixture.hasher, nowMs: nowMs,
            version: clock.tick(nowMs: nowMs), using: &rng
        )
        keeper.apply(created.record)
        return created
    }

    /// Applies an update to the installed record and returns the new record.
    @discardableResult
    mutating func update(_ id: String, _ changes: KeyChanges, nowMs: Int64) throws -> KeyRecord {
        let stored = keeper.record(id: id)
        let current = try #require(stored)
        let next = try KeyLifecycle.update(current, with: changes, nowMs: nowMs, version: clock.tick(nowMs: nowMs))
        let changed = keeper.apply(next)
        #expect(changed)
        return next
    }

    mutating func rotate(_ id: String, graceMs: Int64, nowMs: Int64) throws -> (record: KeyRecord, secret: String) {
        let stored = keeper.record(id: id)
        let current = try #require(stored)
        let rotated = try KeyLifecycle.rotate(
            current, graceMs: graceMs, hasher: Fixture.hasher, nowMs: nowMs, version: clock.tick(nowMs: nowMs), using: &rng
        )
        let changed = keeper.apply(rotated.record)
        #expect(changed)
        return rotated
    }

    mutating func revoke(_ id: String, nowMs: Int64) throws {
        let stored = keeper.record(id: id)
        let current = try #require(stored)
        let revoked = KeyLifecycle.revoke(current, nowMs: nowMs, version: clock.tick(nowMs: nowMs))
        let changed = keeper.apply(revoked)
        #expect(changed)
    }

    mutating func verify(
        _ key: String, scopes: [String] = [], cost: Int64 = 1, source: SourceIdentity? = nil, at nowMs: Int64 = Fixture.t0
    ) -> VerifyAnswer {
        keeper.verify(key: key, VerifyRequest(scopes: scopes, cost: cost, source: source), nowMs: nowMs)
    }

    /// A well-formed key that was never issued.
    mutating func unknownKey(prefix: String = APIKeyFormat.defaultPrefix) -> String {
        APIKeyFormat.generate(prefix: prefix, using: &rng)
    }
}
