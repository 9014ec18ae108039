/// The key records one node holds, found by id, by lookup hash (current and rotated-out
/// secrets), by owner and by digest bucket, with the anti-entropy digest kept current on
/// every apply (never rescanned). Records live in slots that never move, so the counters
/// and usage kept beside them (`LimitCounters`, credit usage) are arrays by the same slot.
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

    /// Records by slot; read in place by the verify path (a copy would retain every field).
    private(set) var records: [KeyRecord] = []
    private var slotByID: [String: Int] = [:]
    private var targetByLookup: [LookupHash: LookupTarget] = [:]
    private var idsByOwner: [String: Set<String>] = [:]
    /// The anti-entropy digest, kept current on every apply (never rescanned).
    public private(set) var digest = ReplicaDigest()
    /// How many lookup hashes of each imported form (current and rotated-out) are held: a
    /// verify hashes a presented key the extra ways only while there is a key to find so.
    public private(set) var importedLookups = ImportedLookups()
    /// Record slots by digest bucket, so a bucket's entries are found without a scan.
    private var slotsByBucket: [[Int]] = Array(repeating: [], count: ReplicaDigest.bucketCount)

    public init() {}

    public var count: Int { records.count }

    func slot(id: String) -> Int? { slotByID[id] }

    func target(of lookup: LookupHash) -> LookupTarget? { targetByLookup[lookup] }

    public func record(id: String) -> KeyRecord? {
        slotByID[id].map { records[$0] }
    }

    /// Keys in id order, after `cursor` (exclusive), optionally only one owner's.
    public func list(owner: String?, after cursor: String?, limit: Int) -> [KeyRecord] {
        let ids: [String]
        if let owner {
            ids = idsByOwner[owner].map { Array($0) } ?? []
        } else {
            ids = Array(slotByID.keys)
        }
        return ids.filter { cursor == nil || $0 > cursor! }.sorted().prefix(max(0, limit)).map { records[slotByID[$0]!] }
    }

    /// `(id, version)` of the records in the given buckets.
    public func entries(inBuckets buckets: Set<Int>) -> [ReplicaEntry] {
        buckets.sorted().flatMap { bucket in
            slotsByBucket.indices.contains(bucket)
                ? slotsByBucket[bucket].map { ReplicaEntry(id: records[$0].id, precedence: records[$0].precedence) } : []
        }
    }

    /// The records with these ids, for sending to a peer (usage such as `last_used_at` included).
    public func records(ids: [String]) -> [KeyRecord] {
        ids.compactMap { slotByID[$0].map { records[$0] } }
    }

    /// Installs a record if it takes precedence over what is held (`RecordPrecedence`:
    /// revoked first, then the later secret generation, then the later version).
    mutating func apply(_ record: KeyRecord) -> Change {
        guard let slot = slotByID[record.id] else {
            let slot = records.count
            records.append(record)
            slotByID[record.id] = slot
            idsByOwner[record.owner, default: []].insert(record.id)
            digest.add(id: record.id, version: record.version)
            slotsByBucket[ReplicaDigest.bucket(of: record.id)].append(slot)
            index(record, slot: slot)
            return .inserted(slot: slot)
        }
        let old = records[slot]
        guard record.precedence > old.precedence else { return .none }
        for lookup in Self.lookups(of: old) { targetByLookup[lookup] = nil }
        importedLookups.count(old, by: -1)
        if old.owner != record.owner {
            idsByOwner[old.owner]?.remove(old.id)
            if idsByOwner[old.owner]?.isEmpty == true { idsByOwner[old.owner] = nil }
            idsByOwner[record.owner, default: []].insert(record.id)
        }
        digest.remove(id: old.id, version: old.version)
        digest.add(id: record.id, version: record.version)
        let merged = KeyRecord.merged(old, record)
        records[slot] = merged
        index(merged, slot: slot)
        return .replaced(slot: slot, old: old)
    }

    /// Notes a use of the record in `slot` (usage, not a write: the version stays).
    mutating func setLastUsed(slot: Int, at nowMs: Int64) {
        records[slot].lastUsedAt = nowMs
    }

    private mutating func index(_ record: KeyRecord, slot: Int) {
        importedLookups.count(record, by: 1)
        targetByLookup[record.lookup] = LookupTarget(slot: slot, retiredUntil: nil)
        for retired in record.retiredSecrets {
            targetByLookup[retired.lookup] = LookupTarget(slot: slot, retiredUntil: retired.validUntil)
        }
    }

    private static func lookups(of record: KeyRecord) -> [LookupHash] {
        [record.lookup] + record.retiredSecrets.map(\.lookup)
    }
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
