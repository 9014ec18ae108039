import GatehouseCore
import GatehouseMembership
import GatehouseTestKit
import GatehouseWire
import NIOCore
import Testing

/// Records, slots and messages for the data stream tests, from a `SeededGenerator`.
enum DataStream {
    /// Text pieces of one to four UTF-8 bytes, so random strings exercise every width.
    static let pieces = ["a", "Z", "0", "_", ":", "*", "é", "ß", "日", "本", "🔑", "e\u{301}", " "]

    /// What a key created through the admin API typically looks like.
    static let typicalRecord = KeyRecord(
        id: "key_7bS2xQm4LkP9vT1wZc8rNa", lookup: LookupHash(w0: 0x0123_4567_89AB_CDEF, w1: 42, w2: .max, w3: 7),
        start: "gk_Ab3d", name: "checkout service", owner: "acct_12345", scopes: ["orders:*", "payments:read"],
        enabled: true, createdAt: 1_767_225_600_000, expiresAt: nil, limits: [.defaultHourly, RateLimit(name: "second", limit: 20, windowMs: 1_000)],
        credits: nil, creditsSetAt: nil, meta: ["team": "payments"], revokedAt: nil, lastUsedAt: 1_767_225_900_000,
        retiredSecrets: [], version: HybridTimestamp(wallMs: 1_767_225_600_000, logical: 0, node: "n1"))

    /// A record at every cap the codec allows: 1 KiB strings, the most scopes, limits and
    /// retired secrets, the whole meta budget in one value, and extreme numbers.
    /// An audit entry at every cap `AuditRules` allows: it must fit a frame
    /// `ReplicationMachine.auditEntriesPerMessage` times.
    static let largestAuditEntry: AuditEntry = {
        func filled(_ bytes: Int) -> String { String(repeating: "x", count: bytes) }
        return AuditEntry(
            id: filled(64), atMs: .min, node: filled(AuditRules.maxNodeBytes), actor: filled(AuditRules.maxActorBytes),
            source: filled(AuditRules.maxSourceBytes), requestID: filled(AuditRules.maxRequestIDBytes),
            action: AuditAction(rawValue: filled(AuditRules.maxActionBytes)), keyID: filled(AuditRules.maxKeyIDBytes),
            changes: (0..<AuditRules.maxChanges).map { _ in
                let value = filled(AuditRules.maxValueBytesPerEntry / (2 * AuditRules.maxChanges))
                return AuditChange(field: filled(AuditRules.maxFieldBytes), before: value, after: value)
            })
    }()

    static let largestRecord: KeyRecord = {
        let kib = String(repeating: "🔑", count: KeyRecordCodec.maxStringBytes / 4)
        let stamp = HybridTimestamp(wallMs: .min, logical: .max, node: kib)
        return KeyRecord(
            id: kib, lookup: LookupHash(w0: .max, w1: .max, w2: .max, w3: .max), start: kib, name: kib, owner: kib,
            scopes: Array(repeating: kib, count: KeyRecordCodec.maxScopes), enabled: false, createdAt: .max, expiresAt: .min,
            limits: (0..<KeyRecordCodec.maxLimits).map {
                RateLimit(name: String(repeating: "x", count: KeyRecordCodec.maxStringBytes - 2) + ($0 < 10 ? "0\($0)" : "\($0)"), limit: .max, windowMs: .min)
            },
            credits: .max, creditsSetAt: stamp, meta: ["k": String(repeating: "x", count: KeyRecordCodec.maxMetaBytes - 1)],
            revokedAt: -1, lastUsedAt: 0,
            retiredSecrets: Array(repeating: RetiredSecret(lookup: LookupHash(w0: 1, w1: 2, w2: 3, w3: 4), start: kib, validUntil: .max),
                                  count: KeyRecordCodec.maxRetiredSecrets),
            version: stamp)
    }()
}

extension SeededGenerator {
    /// A string of random pieces, at most `maxBytes` of UTF-8.
    mutating func text(maxBytes: Int) -> String {
        var text = ""
        let target = Int.random(in: 0...maxBytes, using: &self)
        while true {
            let piece = DataStream.pieces.randomElement(using: &self)!
            guard text.utf8.count + piece.utf8.count <= target else { return text }
            text += piece
        }
    }

    mutating func maybe<Value>(_ make: (inout SeededGenerator) -> Value) -> Value? {
        Bool.random(using: &self) ? make(&self) : nil
    }

    mutating func int64() -> Int64 {
        // Small, large and extreme magnitudes alike, of both signs.
        switch next() % 4 {
        case 0: Int64.random(in: -200...200, using: &self)
        case 1: Int64(bitPattern: next())
        case 2: [Int64.min, .max, 0, -1].randomElement(using: &self)!
        default: 1_700_000_000_000 + Int64(next() % 100_000_000_000)
        }
    }

    mutating func lookupHash() -> LookupHash {
        LookupHash(w0: next(), w1: next(), w2: next(), w3: next())
    }

    mutating func timestamp() -> HybridTimestamp {
        HybridTimestamp(wallMs: int64(), logical: UInt32.random(in: 0...UInt32.max, using: &self), node: text(maxBytes: 24))
    }

    mutating func keyRecord() -> KeyRecord {
        var meta: [String: String] = [:]
        for _ in 0..<Int(next() % 5) { meta[text(maxBytes: 40)] = text(maxBytes: 200) }
        return KeyRecord(
            id: "key_" + text(maxBytes: 30), lookup: lookupHash(), start: text(maxBytes: 8), name: text(maxBytes: 120),
            owner: text(maxBytes: 60), scopes: (0..<Int(next() % 6)).map { _ in text(maxBytes: 40) }, enabled: Bool.random(using: &self),
            createdAt: int64(), expiresAt: maybe { $0.int64() },
            limits: (0..<Int(next() % 4)).map { _ in RateLimit(name: text(maxBytes: 20), limit: int64(), windowMs: int64(), strict: Bool.random(using: &self)) },
            credits: maybe { $0.int64() }, creditsSetAt: maybe { $0.timestamp() }, meta: meta, revokedAt: maybe { $0.int64() },
            lastUsedAt: maybe { $0.int64() },
            retiredSecrets: (0..<Int(next() % 3)).map { _ in
                RetiredSecret(lookup: lookupHash(), start: text(maxBytes: 8), validUntil: int64(), form: secretForm())
            },
            version: timestamp(), secretGeneration: secretGeneration(),
            holders: (0..<Int(next() % 4)).map { _ in text(maxBytes: 20) }, secretForm: secretForm())
    }

    /// Mostly native (keys Gatehouse issued), sometimes imported.
    mutating func secretForm() -> SecretForm {
        next() % 4 == 0 ? SecretForm.allCases.randomElement(using: &self)! : .native
    }

    mutating func escrowLedger() -> EscrowLedger {
        Bool.random(using: &self)
            ? .window(keyID: "key_" + text(maxBytes: 26), limit: text(maxBytes: 12), windowMs: int64())
            : .credits(keyID: "key_" + text(maxBytes: 26), epoch: timestamp(), period: int64())
    }

    mutating func escrowRow() -> EscrowRow {
        var given: [String: Int64] = [:]
        for _ in 0..<Int(next() % 5) { given[text(maxBytes: 20)] = Int64(next() >> 1) }
        return EscrowRow(ledger: escrowLedger(), quota: Int64(next() >> 1), spent: Int64(next() >> 1), given: given)
    }

    /// Mostly 0 (never rotated), sometimes a few rotations, sometimes the extremes.
    mutating func secretGeneration() -> UInt32 {
        switch next() % 4 {
        case 0, 1: 0
        case 2: UInt32(next() % 5)
        default: [1, UInt32.max].randomElement(using: &self)!
        }
    }

    mutating func counterBucket() -> CounterBucket {
        Bool.random(using: &self)
            ? .keyLimit(keyID: "key_" + text(maxBytes: 26), limit: text(maxBytes: 12), windowMs: int64())
            : .throttle(name: text(maxBytes: 60), windowMs: int64())
    }

    /// A slot of one of `buckets`, its window near `window` and a count of any size.
    mutating func counterSlot(of buckets: [CounterBucket], window: Int64) -> CounterSlot {
        let count = Bool.random(using: &self) ? Int64(next() % 20_000) : Int64(next() >> 1)
        let jitter = next() % 8 == 0 ? int64() : Int64.random(in: -2...2, using: &self)
        return CounterSlot(bucket: buckets.randomElement(using: &self)!, windowIndex: window &+ jitter, count: count)
    }

    /// One message of every kind, with random contents.
    mutating func dataMessages(buckets: [CounterBucket]) -> [DataMessage] {
        [
            .hello(node: NodeID(text(maxBytes: 40))),
            .records((0..<Int(next() % 6)).map { _ in keyRecord() }),
            .digest(ReplicaDigest(buckets: (0..<ReplicaDigest.bucketCount).map { _ in next() })),
            .digestReply(
                buckets: (0..<Int(next() % 20)).map { _ in Int(next() % UInt64(ReplicaDigest.bucketCount)) },
                entries: (0..<Int(next() % 20)).map { _ in ReplicaEntry(
                    id: text(maxBytes: 30),
                    precedence: RecordPrecedence(revoked: Bool.random(using: &self), secretGeneration: secretGeneration(), version: timestamp())) }),
            .recordsAndWant(records: (0..<Int(next() % 4)).map { _ in keyRecord() }, want: (0..<Int(next() % 10)).map { _ in text(maxBytes: 30) }),
            .counters(origin: NodeID(text(maxBytes: 16)), slots: (0..<Int(next() % 40)).map { _ in counterSlot(of: buckets, window: 1_000) }),
            .countersRequest,
            .countersReply(slots: (0..<Int(next() % 40)).map { _ in counterSlot(of: buckets, window: 5_000) }),
            .escrowRows((0..<Int(next() % 10)).map { _ in escrowRow() }),
            .escrowRestore((0..<Int(next() % 10)).map { _ in escrowRow() }),
            .escrowWants((0..<Int(next() % 10)).map { _ in EscrowWant(ledger: escrowLedger(), quota: Int64(next() >> 1), amount: Int64(next() >> 1)) }),
            .auditEntries((0..<Int(next() % 10)).map { _ in auditEntry() }),
            .auditDigest(auditDigest(), reply: Bool.random(using: &self)),
        ]
    }

    /// An audit entry with random contents within the codec's bounds (not necessarily one
    /// `AuditRules` accepts: the codec carries what it is given).
    mutating func auditEntry() -> AuditEntry {
        AuditEntry(
            id: text(maxBytes: 26), atMs: int64(), node: text(maxBytes: 20), actor: text(maxBytes: 20), source: text(maxBytes: 20),
            requestID: text(maxBytes: 40), action: AuditAction(rawValue: text(maxBytes: 12)), keyID: text(maxBytes: 30),
            changes: (0..<Int(next() % 5)).map { _ in
                AuditChange(
                    field: text(maxBytes: 12), before: Bool.random(using: &self) ? text(maxBytes: 60) : nil,
                    after: Bool.random(using: &self) ? text(maxBytes: 60) : nil)
            })
    }

    mutating func auditDigest() -> AuditDigest {
        var buckets: [Int64: AuditDigest.Bucket] = [:]
        for _ in 0..<Int(next() % 20) { buckets[int64()] = AuditDigest.Bucket(count: next(), fingerprint: next()) }
        return AuditDigest(buckets: buckets, fromHour: int64())
    }
}
