/// The key records one node holds, found by id, by lookup hash (current and rotated-out
/// secrets) and by digest bucket, with the anti-entropy digest kept current on every apply
/// (never rescanned). Records live in slots that never move, so the counters and usage
/// kept beside them (`LimitCounters`, `EscrowBook`) are kept by the same slot.
///
/// Laid out for memory, not convenience (~200 bytes a key at a million keys, against ~900
/// for an array of `KeyRecord` and dictionaries): a fixed-size `StoredKey` per slot, ids in
/// one byte arena, values keys share (owner, scopes, limits, holders, meta, the version's
/// node) held once in `SharedValues`, the fields few keys use (credits, refill, rotated-out
/// secrets) in a side table, and both tables of slots (`SlotTable`) holding 8 bytes a
/// bucket instead of the keys. A `KeyRecord` is put together when asked for; the verify
/// path reads the fields it needs one by one.
///
/// Only records: no counts, no clock. `Gatekeeper` composes it with the counters.
public struct KeyIndex: Sendable {
    /// Where a lookup hash points: a record slot, and for a rotated-out secret, until when.
    struct LookupTarget: Sendable {
        var slot: Int
        var retiredUntil: Int64?
    }

    /// What an apply did to the index.
    enum Change {
        /// An older or equal version: nothing.
        case none
        case inserted(slot: Int)
        case replaced(slot: Int, old: KeyRecord)
    }

    private var keys: [StoredKey] = []
    /// Every record's id, back to back (an id never changes, so nothing is ever freed here).
    private var idBytes: [UInt8] = []
    /// Credits, refill and rotated-out secrets of the records that have any, by slot.
    private var extras: [UInt32: KeyExtras] = [:]
    private var owners = SharedValues<String>()
    private var scopeLists = SharedValues<[String]>()
    private var limitLists = SharedValues<[RateLimit]>()
    private var holderLists = SharedValues<[String]>()
    private var metas = SharedValues<[String: String]>()
    private var versionNodes = SharedValues<String>()
    private var slotsByID = SlotTable()
    /// Current and rotated-out lookup hashes.
    private var slotsByLookup = SlotTable()
    /// Mixed into the lookup tables' hash so their layout is not the lookup hashes' own.
    private let lookupSeed = UInt64.random(in: .min ... .max)
    /// The anti-entropy digest, kept current on every apply (never rescanned).
    public private(set) var digest = ReplicaDigest()
    /// How many lookup hashes of each imported form (current and rotated-out) are held: a
    /// verify hashes a presented key the extra ways only while there is a key to find so.
    public private(set) var importedLookups = ImportedLookups()
    /// Record slots by digest bucket, so a bucket's entries are found without a scan.
    private var slotsByBucket: [[UInt32]] = Array(repeating: [], count: ReplicaDigest.bucketCount)

    public init() {}

    public var count: Int { keys.count }

    /// Room for `records` records without growing (a start-up that knows how many it loads).
    public mutating func reserveCapacity(_ records: Int) {
        guard records > keys.count else { return }
        keys.reserveCapacity(records)
        idBytes.reserveCapacity(records * (KeyLifecycle.idPrefix.utf8.count + KeyLifecycle.idRandomLength))
        if slotsByID.capacity < records { rebuildIDTable(for: records) }
        if slotsByLookup.capacity < records { rebuildLookupTable(for: records) }
    }

    // MARK: Finding

    func slot(id: String) -> Int? {
        var id = id
        return id.withUTF8 { wanted in
            for slot in slotsByID.candidates(of: Self.idHash(UnsafeRawBufferPointer(wanted))) where idMatches(slot: slot, wanted) {
                return slot
            }
            return nil
        }
    }

    private func idMatches(slot: Int, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        guard Int(keys[slot].idLength) == wanted.count else { return false }
        let offset = Int(keys[slot].idOffset)
        return idBytes.withUnsafeBufferPointer { all in
            wanted.elementsEqual(all[offset..<offset + wanted.count])
        }
    }

    func target(of lookup: LookupHash) -> LookupTarget? {
        for slot in slotsByLookup.candidates(of: lookupHash(lookup)) {
            if keys[slot].lookup == lookup { return LookupTarget(slot: slot, retiredUntil: nil) }
            if keys[slot].has(.extras), let retired = extras[UInt32(slot)]?.retiredSecrets.first(where: { $0.lookup == lookup }) {
                return LookupTarget(slot: slot, retiredUntil: retired.validUntil)
            }
        }
        return nil
    }

    public func record(id: String) -> KeyRecord? {
        slot(id: id).map { record(at: $0) }
    }

    /// Keys in id order, after `cursor` (exclusive), optionally only one owner's. One pass
    /// over the slots keeping the `limit` smallest ids (ids compare as their UTF-8 bytes:
    /// the order of `String` for the visible ASCII ids keys have).
    public func list(owner: String?, after cursor: String?, limit: Int) -> [KeyRecord] {
        guard limit > 0 else { return [] }
        var ownerOrdinal: UInt32?
        if let owner {
            guard let ordinal = owners.ordinal(of: owner) else { return [] }
            ownerOrdinal = ordinal
        }
        let after = cursor.map { Array($0.utf8) }
        var chosen: [Int] = []
        idBytes.withUnsafeBufferPointer { all in
            func id(_ slot: Int) -> Slice<UnsafeBufferPointer<UInt8>> {
                all[Int(keys[slot].idOffset)..<Int(keys[slot].idOffset) + Int(keys[slot].idLength)]
            }
            for slot in keys.indices {
                if let ownerOrdinal, keys[slot].owner != ownerOrdinal { continue }
                let candidate = id(slot)
                if let after, !after.lexicographicallyPrecedes(candidate) { continue }
                if chosen.count == limit {
                    guard candidate.lexicographicallyPrecedes(id(chosen[limit - 1])) else { continue }
                    chosen.removeLast()
                }
                var low = 0
                var high = chosen.count
                while low < high {
                    let middle = (low + high) / 2
                    if id(chosen[middle]).lexicographicallyPrecedes(candidate) { low = middle + 1 } else { high = middle }
                }
                chosen.insert(slot, at: low)
            }
        }
        return chosen.map { record(at: $0) }
    }

    /// `(id, version)` of the records in the given buckets.
    public func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] {
        buckets.sorted().flatMap { bucket in
            slotsByBucket.indices.contains(bucket)
                ? slotsByBucket[bucket].map { ReplicaEntry(id: id(slot: Int($0)), precedence: precedence(slot: Int($0))) } : []
        }
    }

    /// The records with these ids, for sending to a peer (usage such as `last_used_at` included).
    public func records(ids: [String]) -> [KeyRecord] {
        ids.compactMap { slot(id: $0).map { record(at: $0) } }
    }

    // MARK: Reading a slot (the verify path reads only what it needs)

    func id(slot: Int) -> String {
        let key = keys[slot]
        return idBytes.withUnsafeBufferPointer { all in
            String(decoding: all[Int(key.idOffset)..<Int(key.idOffset) + Int(key.idLength)], as: UTF8.self)
        }
    }

    func owner(slot: Int) -> String { owners[keys[slot].owner] }
    func scopes(slot: Int) -> [String] { scopeLists[keys[slot].scopes] }
    func limits(slot: Int) -> [RateLimit] { limitLists[keys[slot].limits] }
    func holders(slot: Int) -> [String] { holderLists[keys[slot].holders] }
    func meta(slot: Int) -> [String: String] { metas[keys[slot].meta] }
    func isRevoked(slot: Int) -> Bool { keys[slot].has(.revoked) }
    func isEnabled(slot: Int) -> Bool { keys[slot].has(.enabled) }
    func expiresAt(slot: Int) -> Int64? { keys[slot].has(.expires) ? keys[slot].expiresAt : nil }
    func lastUsedAt(slot: Int) -> Int64? { keys[slot].has(.used) ? keys[slot].lastUsedAt : nil }
    func hasCredits(slot: Int) -> Bool { keys[slot].has(.credits) }

    func precedence(slot: Int) -> RecordPrecedence {
        RecordPrecedence(revoked: keys[slot].has(.revoked), secretGeneration: keys[slot].secretGeneration, version: version(slot: slot))
    }

    private func version(slot: Int) -> HybridTimestamp {
        HybridTimestamp(wallMs: keys[slot].versionWallMs, logical: keys[slot].versionLogical, node: versionNodes[keys[slot].versionNode])
    }

    /// The whole record in `slot`, put together from its parts.
    func record(at slot: Int) -> KeyRecord {
        let key = keys[slot]
        let extra = key.has(.extras) ? extras[UInt32(slot)] : nil
        return KeyRecord(
            id: id(slot: slot), lookup: key.lookup, start: key.start, name: key.name, owner: owners[key.owner],
            scopes: scopeLists[key.scopes], enabled: key.has(.enabled), createdAt: key.createdAt,
            expiresAt: key.has(.expires) ? key.expiresAt : nil, limits: limitLists[key.limits], credits: extra?.credits,
            creditsSetAt: extra?.creditsSetAt, meta: metas[key.meta], revokedAt: key.has(.revoked) ? key.revokedAt : nil,
            lastUsedAt: key.has(.used) ? key.lastUsedAt : nil, retiredSecrets: extra?.retiredSecrets ?? [],
            version: version(slot: slot), secretGeneration: key.secretGeneration, holders: holderLists[key.holders],
            refill: extra?.refill, secretForm: key.form)
    }

    // MARK: Writing

    /// Installs a record if it takes precedence over what is held (`RecordPrecedence`:
    /// revoked first, then the later secret generation, then the later version).
    mutating func apply(_ record: KeyRecord) -> Change {
        guard let slot = slot(id: record.id) else {
            let slot = keys.count
            precondition(slot <= SlotTable.maximumSlot, "more records than a slot table holds")
            let idLength = record.id.utf8.count
            precondition(idLength <= Int(UInt16.max) && idBytes.count + idLength <= Int(UInt32.max), "record id out of the arena's range")
            let idOffset = UInt32(idBytes.count)
            idBytes.append(contentsOf: record.id.utf8)
            keys.append(store(record, idOffset: idOffset, idLength: UInt16(idLength), slot: slot))
            if slotsByID.needsRebuild(adding: 1) {
                rebuildIDTable(for: keys.count * 3 / 2)  // indexes the new slot with the others
            } else {
                var id = record.id
                id.withUTF8 { slotsByID.insert(hash: Self.idHash(UnsafeRawBufferPointer($0)), slot: slot) }
            }
            digest.add(id: record.id, version: record.version)
            slotsByBucket[ReplicaDigest.bucket(of: record.id)].append(UInt32(slot))
            addLookups(of: record, slot: slot)
            return .inserted(slot: slot)
        }
        let old = self.record(at: slot)
        guard record.precedence > old.precedence else { return .none }
        let merged = KeyRecord.merged(old, record)
        digest.remove(id: old.id, version: old.version)
        digest.add(id: merged.id, version: merged.version)
        release(keys[slot])
        // Stored before its lookups are added: a table rebuild on the way re-reads the slot.
        keys[slot] = store(merged, idOffset: keys[slot].idOffset, idLength: keys[slot].idLength, slot: slot)
        importedLookups.count(old, by: -1)
        if Self.lookups(of: old) != Self.lookups(of: merged) {
            for lookup in Self.lookups(of: old) { slotsByLookup.remove(hash: lookupHash(lookup), slot: slot) }
            addLookups(of: merged, slot: slot)
        } else {
            importedLookups.count(merged, by: 1)
        }
        return .replaced(slot: slot, old: old)
    }

    /// Notes a use of the record in `slot` (usage, not a write: the version stays).
    mutating func setLastUsed(slot: Int, at nowMs: Int64) {
        keys[slot].lastUsedAt = nowMs
        keys[slot].flags.insert(.used)
    }

    /// The fixed-size form of `record`, its shared values retained and its extras filed.
    private mutating func store(_ record: KeyRecord, idOffset: UInt32, idLength: UInt16, slot: Int) -> StoredKey {
        var flags: StoredKey.Flags = []
        if record.enabled { flags.insert(.enabled) }
        if record.revokedAt != nil { flags.insert(.revoked) }
        if record.expiresAt != nil { flags.insert(.expires) }
        if record.lastUsedAt != nil { flags.insert(.used) }
        if record.credits != nil { flags.insert(.credits) }
        let extra = KeyExtras(credits: record.credits, creditsSetAt: record.creditsSetAt, refill: record.refill, retiredSecrets: record.retiredSecrets)
        if extra.isEmpty {
            extras[UInt32(slot)] = nil
        } else {
            flags.insert(.extras)
            extras[UInt32(slot)] = extra
        }
        return StoredKey(
            lookup: record.lookup, createdAt: record.createdAt, expiresAt: record.expiresAt ?? 0, revokedAt: record.revokedAt ?? 0,
            lastUsedAt: record.lastUsedAt ?? 0, versionWallMs: record.version.wallMs, versionLogical: record.version.logical,
            versionNode: versionNodes.retain(record.version.node), idOffset: idOffset, owner: owners.retain(record.owner),
            scopes: scopeLists.retain(record.scopes), limits: limitLists.retain(record.limits), holders: holderLists.retain(record.holders),
            meta: metas.retain(record.meta), secretGeneration: record.secretGeneration, idLength: idLength, form: record.secretForm,
            flags: flags, name: record.name, start: record.start)
    }

    /// Gives back the shared values a stored key held (it is about to be replaced).
    private mutating func release(_ key: StoredKey) {
        versionNodes.release(key.versionNode)
        owners.release(key.owner)
        scopeLists.release(key.scopes)
        limitLists.release(key.limits)
        holderLists.release(key.holders)
        metas.release(key.meta)
    }

    /// Indexes the lookups of `record`, which `slot` already holds: when the table must
    /// grow first, the rebuild indexes them along with every other slot's.
    private mutating func addLookups(of record: KeyRecord, slot: Int) {
        importedLookups.count(record, by: 1)
        let lookups = Self.lookups(of: record)
        guard !slotsByLookup.needsRebuild(adding: lookups.count) else {
            rebuildLookupTable(for: (slotsByLookup.count + lookups.count) * 3 / 2)
            return
        }
        for lookup in lookups { slotsByLookup.insert(hash: lookupHash(lookup), slot: slot) }
    }

    private static func lookups(of record: KeyRecord) -> [LookupHash] {
        [record.lookup] + record.retiredSecrets.map(\.lookup)
    }

    // MARK: Tables

    private mutating func rebuildIDTable(for entries: Int) {
        var table = SlotTable(capacityFor: max(entries, keys.count))
        idBytes.withUnsafeBufferPointer { all in
            for slot in keys.indices {
                let offset = Int(keys[slot].idOffset)
                let id = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: all[offset..<offset + Int(keys[slot].idLength)]))
                table.insert(hash: Self.idHash(id), slot: slot)
            }
        }
        slotsByID = table
    }

    private mutating func rebuildLookupTable(for entries: Int) {
        slotsByLookup.rebuild(for: max(entries, slotsByLookup.count))
        for slot in keys.indices {
            slotsByLookup.insert(hash: lookupHash(keys[slot].lookup), slot: slot)
            guard keys[slot].has(.extras), let retired = extras[UInt32(slot)]?.retiredSecrets else { continue }
            for secret in retired { slotsByLookup.insert(hash: lookupHash(secret.lookup), slot: slot) }
        }
    }

    /// Ids are hashed with the standard library's per-process seeded hasher.
    private static func idHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// A lookup hash is already uniform (an HMAC or a SHA-256); mixing in a seed keeps the
    /// table's layout from being chosen by whoever chose the hashes (an import of SHA-256s).
    private func lookupHash(_ lookup: LookupHash) -> UInt64 {
        let mixed = (lookup.w0 ^ lookupSeed) &* 0x9E37_79B9_7F4A_7C15
        return mixed ^ (mixed >> 29)
    }

    // MARK: Memory (for `bench/key-memory`)

    /// Bytes held per structure, counted from capacities and shared-value counts (an
    /// estimate of the heap: the allocator's own overhead is not in it).
    public var memoryReport: [(structure: String, bytes: Int)] {
        [
            ("records: [StoredKey], \(MemoryLayout<StoredKey>.stride) B each", keys.capacity * MemoryLayout<StoredKey>.stride),
            ("ids: one byte arena", idBytes.capacity),
            ("slotsByID: SlotTable", slotsByID.byteCount),
            ("slotsByLookup: SlotTable", slotsByLookup.byteCount),
            ("slotsByBucket: [[UInt32]]", slotsByBucket.reduce(0) { $0 + $1.capacity * 4 }),
            ("extras: \(extras.count) records with credits, refill or rotated-out secrets", extras.capacity * 96),
        ]
    }

    /// Distinct shared values held (owners, scope lists, limit lists, holder lists, metas).
    public var sharedValueCounts: [String: Int] {
        ["owners": owners.count, "scopes": scopeLists.count, "limits": limitLists.count, "holders": holderLists.count, "meta": metas.count]
    }
}

/// One record's fields as `KeyIndex` keeps them: fixed-size, shared values by ordinal.
struct StoredKey: Sendable {
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt8
        static let enabled = Flags(rawValue: 1)
        static let revoked = Flags(rawValue: 2)
        static let expires = Flags(rawValue: 4)
        static let used = Flags(rawValue: 8)
        static let credits = Flags(rawValue: 16)
        /// `KeyIndex.extras` holds the slot's credits, refill or rotated-out secrets.
        static let extras = Flags(rawValue: 32)
    }

    var lookup: LookupHash
    var createdAt: Int64
    /// Meaningful only with the matching flag (`expires`, `revoked`, `used`): a flag, not a
    /// sentinel value, so no value a peer sends can read as "not revoked".
    var expiresAt: Int64
    var revokedAt: Int64
    var lastUsedAt: Int64
    var versionWallMs: Int64
    var versionLogical: UInt32
    var versionNode: UInt32
    var idOffset: UInt32
    var owner: UInt32
    var scopes: UInt32
    var limits: UInt32
    var holders: UInt32
    var meta: UInt32
    var secretGeneration: UInt32
    var idLength: UInt16
    var form: SecretForm
    var flags: Flags
    /// Short strings (a start, most names) are held inside the `String` itself.
    var name: String
    var start: String

    func has(_ flag: Flags) -> Bool { flags.contains(flag) }
}

/// The fields few records use, kept beside `StoredKey` only for those that do.
struct KeyExtras: Sendable {
    var credits: Int64?
    var creditsSetAt: HybridTimestamp?
    var refill: CreditRefill?
    var retiredSecrets: [RetiredSecret]

    var isEmpty: Bool { credits == nil && creditsSetAt == nil && refill == nil && retiredSecrets.isEmpty }
}

/// Lookup hashes of imported keys held by an index, by form.
public struct ImportedLookups: Sendable, Hashable {
    /// Of the caller's own key strings in another format (found by the pepper's HMAC).
    public var foreign = 0
    /// Of keys imported as their SHA-256.
    public var sha256 = 0

    public init() {}

    mutating func count(_ record: KeyRecord, by step: Int) {
        count(record.secretForm, by: step)
        for retired in record.retiredSecrets { count(retired.form, by: step) }
    }

    private mutating func count(_ form: SecretForm, by step: Int) {
        switch form {
        case .native: break
        case .foreign: foreign += step
        case .sha256: sha256 += step
        }
    }
}
