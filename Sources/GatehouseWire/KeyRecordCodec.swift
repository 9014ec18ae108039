import GatehouseCore
import NIOCore

/// The binary form of a `KeyRecord`, for the data plane (and for anything else that wants
/// records small and fast to read: storage, snapshots).
///
/// Fields in declaration order: strings as a varint length and UTF-8, integers as zigzag
/// varints (`logical` as a plain varint), the lookup hashes as their 32 raw bytes, and one
/// flags byte for `enabled` and which optionals are present (a secret generation of 0 is
/// left out). `meta` is written in key order,
/// so equal records always give equal bytes. A typical record is about 180 bytes against
/// 470 as compact JSON.
///
/// Reading checks every count and length against the caps below before allocating, and
/// holds a record to the shape `KeyRules` allows (scopes, limits, retired secrets, meta
/// bytes); it does not re-check the rules' content (characters, window ranges) — the
/// receiver validates a remote record as strictly as admin input anyway.
public enum KeyRecordCodec {
    /// Any string of a record except meta values.
    public static let maxStringBytes = 1_024
    public static let maxScopes = KeyRules.maxScopes
    public static let maxLimits = KeyRules.maxLimits
    public static let maxRetiredSecrets = KeyRules.maxRetiredSecrets
    /// Meta keys and values together.
    public static let maxMetaBytes = KeyRules.maxMetaBytes
    /// The fewest bytes a record takes, to size allocations by what a buffer could hold.
    static let minimumBytes = 45

    /// One record alone; `decode` reads it back and rejects anything after it.
    public static func encode(_ record: KeyRecord) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeKeyRecord(record)
        return buffer
    }

    public static func decode(_ bytes: ByteBuffer) throws(GossipDecodeError) -> KeyRecord {
        var buffer = bytes
        let record = try buffer.readKeyRecord()
        guard buffer.readableBytes == 0 else { throw GossipDecodeError(.trailingBytes, "\(buffer.readableBytes) bytes after the record") }
        return record
    }

    struct Flags: OptionSet {
        var rawValue: UInt8
        static let enabled = Flags(rawValue: 1 << 0)
        static let expiresAt = Flags(rawValue: 1 << 1)
        static let credits = Flags(rawValue: 1 << 2)
        static let creditsSetAt = Flags(rawValue: 1 << 3)
        static let revokedAt = Flags(rawValue: 1 << 4)
        static let lastUsedAt = Flags(rawValue: 1 << 5)
        static let secretGeneration = Flags(rawValue: 1 << 6)
        /// A varint of `Extensions` follows the version: fields added after the flags byte filled up.
        static let extended = Flags(rawValue: 1 << 7)
        static let all: Flags = [.enabled, .expiresAt, .credits, .creditsSetAt, .revokedAt, .lastUsedAt, .secretGeneration, .extended]
    }

    /// What an extended record carries after its version, in this order.
    struct Extensions: OptionSet {
        var rawValue: UInt64
        /// A varint count of holder names, each a string.
        static let holders = Extensions(rawValue: 1 << 0)
        /// A varint bit mask: bit i set when the i-th limit is strict.
        static let strictLimits = Extensions(rawValue: 1 << 1)
        /// The refill: its amount (zigzag) and its interval (a byte: 0 daily, 1 monthly).
        static let refill = Extensions(rawValue: 1 << 2)
        /// Imported secrets: the record's `SecretForm` (a byte), then one byte per retired
        /// secret, in their order. Left out when every form is native.
        static let secretForms = Extensions(rawValue: 1 << 3)
        static let all: Extensions = [.holders, .strictLimits, .refill, .secretForms]
    }

    /// Most holder names a record carries: one per member of the largest cluster we plan for.
    public static let maxHolders = KeyRules.maxHolders
}

extension KeyRecordCodec {
    /// At least as many bytes as `writeKeyRecord` writes for `record`: ten for each varint,
    /// ten plus its UTF-8 for each string, 32 for each lookup hash.
    static func maxEncodedBytes(of record: KeyRecord) -> Int {
        let varint = RawBytesWriter.maxVarintBytes
        func string(_ text: String) -> Int { varint + text.utf8.count }
        // The flags, the secret form, the refill's interval byte, and every varint not in a
        // list: created, expires, credits, credits set (two and a string), revoked, last
        // used, generation, four list counts, the version (two and a string), extensions,
        // holder count, strict mask, refill amount.
        var bytes = 3 + 20 * varint + 32
        bytes += string(record.id) + string(record.start) + string(record.name) + string(record.owner)
        bytes += string(record.version.node) + string(record.creditsSetAt?.node ?? "")
        for scope in record.scopes { bytes += string(scope) }
        for limit in record.limits { bytes += string(limit.name) + 2 * varint }
        for (key, value) in record.meta { bytes += string(key) + string(value) }
        for secret in record.retiredSecrets { bytes += 32 + string(secret.start) + varint + 1 }
        for holder in record.holders { bytes += string(holder) }
        return bytes
    }
}

extension ByteBuffer {
    /// Writes `record` in the codec's form (one capacity reservation, then raw bytes:
    /// `RawBytesWriter`); returns the bytes written.
    @discardableResult
    public mutating func writeKeyRecord(_ record: KeyRecord) -> Int {
        writeWithUnsafeMutableBytes(minimumWritableBytes: KeyRecordCodec.maxEncodedBytes(of: record)) { memory in
            var writer = RawBytesWriter(memory)
            writer.writeKeyRecord(record)
            return writer.count
        }
    }

    public mutating func readKeyRecord() throws(GossipDecodeError) -> KeyRecord {
        let maxString = KeyRecordCodec.maxStringBytes
        let id = try readVarintString("record id", maxBytes: maxString)
        let lookup = try readLookupHash()
        let start = try readVarintString("start", maxBytes: maxString)
        let name = try readVarintString("name", maxBytes: maxString)
        let owner = try readVarintString("owner", maxBytes: maxString)
        let flags = KeyRecordCodec.Flags(rawValue: try readChecked(UInt8.self))
        guard KeyRecordCodec.Flags.all.isSuperset(of: flags) else { throw GossipDecodeError(.invalidField, "unknown record flags") }
        let createdAt = try readZigZag("created_at")
        let expiresAt = try flags.contains(.expiresAt) ? readZigZag("expires_at") : nil
        let credits = try flags.contains(.credits) ? readZigZag("credits") : nil
        let creditsSetAt = try flags.contains(.creditsSetAt) ? readHybridTimestamp() : nil
        let revokedAt = try flags.contains(.revokedAt) ? readZigZag("revoked_at") : nil
        let lastUsedAt = try flags.contains(.lastUsedAt) ? readZigZag("last_used_at") : nil
        var secretGeneration: UInt32 = 0
        if flags.contains(.secretGeneration) {
            guard let generation = UInt32(exactly: try readVarint("secret generation")), generation != 0 else {
                throw GossipDecodeError(.invalidField, "secret generation is out of range")
            }
            secretGeneration = generation
        }

        let scopeCount = try readVarintCount("scopes", limit: KeyRecordCodec.maxScopes)
        var scopes: [String] = []
        scopes.reserveCapacity(scopeCount)
        for _ in 0..<scopeCount { scopes.append(try readVarintString("scope", maxBytes: maxString)) }

        let limitCount = try readVarintCount("limits", limit: KeyRecordCodec.maxLimits)
        var limits: [RateLimit] = []
        limits.reserveCapacity(limitCount)
        for _ in 0..<limitCount {
            let limitName = try readVarintString("limit name", maxBytes: maxString)
            let limit = try readZigZag("limit")
            limits.append(RateLimit(name: limitName, limit: limit, windowMs: try readZigZag("window_ms")))
        }

        // Each entry takes at least two bytes, so the count is bounded by the budget too.
        let metaCount = try readVarintCount("meta entries", limit: KeyRecordCodec.maxMetaBytes)
        var meta: [String: String] = [:]
        meta.reserveCapacity(min(metaCount, readableBytes / 2))
        var metaBudget = KeyRecordCodec.maxMetaBytes
        for _ in 0..<metaCount {
            let key = try readVarintString("meta key", maxBytes: min(maxString, metaBudget))
            metaBudget -= key.utf8.count
            let value = try readVarintString("meta value", maxBytes: metaBudget)
            metaBudget -= value.utf8.count
            guard meta.updateValue(value, forKey: key) == nil else { throw GossipDecodeError(.invalidField, "meta key repeated") }
        }

        let retiredCount = try readVarintCount("retired secrets", limit: KeyRecordCodec.maxRetiredSecrets)
        var retired: [RetiredSecret] = []
        retired.reserveCapacity(retiredCount)
        for _ in 0..<retiredCount {
            let retiredLookup = try readLookupHash()
            let retiredStart = try readVarintString("retired start", maxBytes: maxString)
            retired.append(RetiredSecret(lookup: retiredLookup, start: retiredStart, validUntil: try readZigZag("valid_until")))
        }
        let version = try readHybridTimestamp()
        var holders: [String] = []
        var refill: CreditRefill?
        var secretForm = SecretForm.native
        if flags.contains(.extended) {
            let extensions = KeyRecordCodec.Extensions(rawValue: try readVarint("record extensions"))
            guard KeyRecordCodec.Extensions.all.isSuperset(of: extensions), !extensions.isEmpty else {
                throw GossipDecodeError(.invalidField, "unknown record extensions")
            }
            if extensions.contains(.holders) {
                let count = try readVarintCount("holders", limit: KeyRecordCodec.maxHolders)
                // Canonical: an empty list is written by leaving the extension out.
                guard count > 0 else { throw GossipDecodeError(.invalidField, "holders extension with no holders") }
                holders.reserveCapacity(count)
                for _ in 0..<count { holders.append(try readVarintString("holder", maxBytes: maxString)) }
            }
            if extensions.contains(.strictLimits) {
                let mask = try readVarint("strict limits")
                guard mask != 0, mask >> UInt64(limits.count) == 0 else {
                    throw GossipDecodeError(.invalidField, "strict mask is empty or names a missing limit")
                }
                for position in limits.indices where mask & (1 << UInt64(position)) != 0 { limits[position].strict = true }
            }
            if extensions.contains(.refill) {
                let amount = try readZigZag("refill amount")
                switch try readChecked(UInt8.self) {
                case 0: refill = CreditRefill(amount: amount, interval: .daily)
                case 1: refill = CreditRefill(amount: amount, interval: .monthly)
                case let other: throw GossipDecodeError(.invalidField, "refill interval \(other)")
                }
            }
            if extensions.contains(.secretForms) {
                secretForm = try readSecretForm()
                for position in retired.indices { retired[position].form = try readSecretForm() }
                // Canonical: all native is written by leaving the extension out.
                guard secretForm != .native || retired.contains(where: { $0.form != .native }) else {
                    throw GossipDecodeError(.invalidField, "secret forms extension with only native forms")
                }
            }
        }
        return KeyRecord(
            id: id, lookup: lookup, start: start, name: name, owner: owner, scopes: scopes,
            enabled: flags.contains(.enabled), createdAt: createdAt, expiresAt: expiresAt, limits: limits,
            credits: credits, creditsSetAt: creditsSetAt, meta: meta, revokedAt: revokedAt,
            lastUsedAt: lastUsedAt, retiredSecrets: retired, version: version, secretGeneration: secretGeneration,
            holders: holders, refill: refill, secretForm: secretForm)
    }

    private mutating func readSecretForm() throws(GossipDecodeError) -> SecretForm {
        let raw = try readChecked(UInt8.self)
        guard let form = SecretForm(rawValue: raw) else { throw GossipDecodeError(.invalidField, "secret form \(raw)") }
        return form
    }

    /// The hash's 32 bytes, big-endian words as in `LookupHash.bytes`.
    @discardableResult
    public mutating func writeLookupHash(_ lookup: LookupHash) -> Int {
        writeMultipleIntegers(lookup.w0, lookup.w1, lookup.w2, lookup.w3)
    }

    public mutating func readLookupHash() throws(GossipDecodeError) -> LookupHash {
        guard let words = readMultipleIntegers(as: (UInt64, UInt64, UInt64, UInt64).self) else {
            throw GossipDecodeError(.truncated, "lookup hash ends early")
        }
        return LookupHash(w0: words.0, w1: words.1, w2: words.2, w3: words.3)
    }

    /// Wall milliseconds (zigzag), the logical counter, and the node's name.
    @discardableResult
    public mutating func writeHybridTimestamp(_ timestamp: HybridTimestamp) -> Int {
        writeZigZag(timestamp.wallMs) + writeVarint(UInt64(timestamp.logical)) + writeVarintString(timestamp.node)
    }

    public mutating func readHybridTimestamp() throws(GossipDecodeError) -> HybridTimestamp {
        let wallMs = try readZigZag("timestamp wall")
        let logical = try readVarint("timestamp logical")
        guard let logical = UInt32(exactly: logical) else { throw GossipDecodeError(.invalidField, "timestamp logical is out of range") }
        return HybridTimestamp(wallMs: wallMs, logical: logical, node: try readVarintString("timestamp node", maxBytes: KeyRecordCodec.maxStringBytes))
    }
}

extension RawBytesWriter {
    /// The fields in the codec's order (`KeyRecordCodec`).
    mutating func writeKeyRecord(_ record: KeyRecord) {
        writeVarintString(record.id)
        writeLookupHash(record.lookup)
        writeVarintString(record.start)
        writeVarintString(record.name)
        writeVarintString(record.owner)
        var flags: KeyRecordCodec.Flags = []
        if record.enabled { flags.insert(.enabled) }
        if record.expiresAt != nil { flags.insert(.expiresAt) }
        if record.credits != nil { flags.insert(.credits) }
        if record.creditsSetAt != nil { flags.insert(.creditsSetAt) }
        if record.revokedAt != nil { flags.insert(.revokedAt) }
        if record.lastUsedAt != nil { flags.insert(.lastUsedAt) }
        if record.secretGeneration != 0 { flags.insert(.secretGeneration) }
        var extensions: KeyRecordCodec.Extensions = []
        if !record.holders.isEmpty { extensions.insert(.holders) }
        if record.limits.contains(where: \.strict) { extensions.insert(.strictLimits) }
        if record.refill != nil { extensions.insert(.refill) }
        if record.secretForm != .native || record.retiredSecrets.contains(where: { $0.form != .native }) {
            extensions.insert(.secretForms)
        }
        if !extensions.isEmpty { flags.insert(.extended) }
        writeByte(flags.rawValue)
        writeZigZag(record.createdAt)
        if let expiresAt = record.expiresAt { writeZigZag(expiresAt) }
        if let credits = record.credits { writeZigZag(credits) }
        if let creditsSetAt = record.creditsSetAt { writeHybridTimestamp(creditsSetAt) }
        if let revokedAt = record.revokedAt { writeZigZag(revokedAt) }
        if let lastUsedAt = record.lastUsedAt { writeZigZag(lastUsedAt) }
        if record.secretGeneration != 0 { writeVarint(UInt64(record.secretGeneration)) }
        writeVarint(UInt64(record.scopes.count))
        for scope in record.scopes { writeVarintString(scope) }
        writeVarint(UInt64(record.limits.count))
        for limit in record.limits {
            writeVarintString(limit.name)
            writeZigZag(limit.limit)
            writeZigZag(limit.windowMs)
        }
        writeVarint(UInt64(record.meta.count))
        for key in record.meta.keys.sorted() {
            writeVarintString(key)
            writeVarintString(record.meta[key] ?? "")
        }
        writeVarint(UInt64(record.retiredSecrets.count))
        for secret in record.retiredSecrets {
            writeLookupHash(secret.lookup)
            writeVarintString(secret.start)
            writeZigZag(secret.validUntil)
        }
        writeHybridTimestamp(record.version)
        guard !extensions.isEmpty else { return }
        writeVarint(extensions.rawValue)
        if extensions.contains(.holders) {
            writeVarint(UInt64(record.holders.count))
            for holder in record.holders { writeVarintString(holder) }
        }
        if extensions.contains(.strictLimits) {
            var mask: UInt64 = 0
            for (position, limit) in record.limits.enumerated() where limit.strict && position < 64 { mask |= 1 << UInt64(position) }
            writeVarint(mask)
        }
        if let refill = record.refill {
            writeZigZag(refill.amount)
            writeByte(refill.interval == .daily ? 0 : 1)
        }
        if extensions.contains(.secretForms) {
            writeByte(record.secretForm.rawValue)
            for secret in record.retiredSecrets { writeByte(secret.form.rawValue) }
        }
    }

    mutating func writeLookupHash(_ lookup: LookupHash) {
        writeBigEndian(lookup.w0)
        writeBigEndian(lookup.w1)
        writeBigEndian(lookup.w2)
        writeBigEndian(lookup.w3)
    }

    mutating func writeHybridTimestamp(_ timestamp: HybridTimestamp) {
        writeZigZag(timestamp.wallMs)
        writeVarint(UInt64(timestamp.logical))
        writeVarintString(timestamp.node)
    }
}
