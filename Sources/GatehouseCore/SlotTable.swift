/// A hash table from a 64-bit hash to record slots, 8 bytes a bucket: what `KeyIndex` finds
/// records by (lookup hash, id) without holding a copy of the key it is found by.
///
/// A bucket keeps the slot and 32 bits of the hash (a fragment), not the key: the caller
/// confirms a candidate against the record itself, so a table of a million keys costs
/// ~11 bytes per key instead of the ~50–120 of a `Dictionary` holding the keys. Several
/// buckets may hold the same fragment, or the same slot (a key's current and rotated-out
/// secrets): `candidates` walks them all. Open addressing with linear probing; a removed
/// bucket becomes a tombstone until the next `rebuild`, which the owner calls when
/// `needsRebuild` says so — the table cannot rehash on its own, since it does not keep
/// the hashes (the owner re-inserts from its records).
struct SlotTable: Sendable {
    /// `fragment << 32 | (slot + 1)`; `empty` and `removed` are never a bucket in use.
    private var buckets: [UInt64]
    /// Buckets in use, tombstones not counted.
    private(set) var count = 0
    private var tombstones = 0

    private static let empty: UInt64 = 0
    private static let removed: UInt64 = .max
    /// Filled to at most three quarters (tombstones included) before a rebuild.
    private static let maximumLoad = 0.75
    /// Largest slot a bucket can hold (`removed`'s low half is one more).
    static let maximumSlot = Int(UInt32.max) - 2

    init(capacityFor expected: Int = 0) {
        buckets = Array(repeating: Self.empty, count: Self.bucketCount(for: expected))
    }

    /// Buckets for `entries` at two thirds full: a little room to grow before the next
    /// rebuild, and short probes (~2 buckets for a key held, linear probing).
    private static func bucketCount(for entries: Int) -> Int {
        max(16, Int(Double(max(entries, 8)) / 0.65))
    }

    /// Entries the table takes before it needs a rebuild.
    var capacity: Int { Int(Double(buckets.count) * Self.maximumLoad) }

    /// Whether `entries` more inserts would fill the table past its load: rebuild first.
    func needsRebuild(adding entries: Int) -> Bool {
        Double(count + tombstones + entries) > Double(buckets.count) * Self.maximumLoad
    }

    /// Empties the table and sizes it for `entries`; the owner then inserts them all again.
    mutating func rebuild(for entries: Int) {
        self = SlotTable(capacityFor: entries)
    }

    /// Bytes the buckets take (for `bench/key-memory`).
    var byteCount: Int { buckets.count * MemoryLayout<UInt64>.stride }

    /// The bucket a hash starts probing at: its high bits scaled to the bucket count
    /// (multiply-shift, so the count need not be a power of two).
    private func home(of hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(buckets.count)).high)
    }

    private static func fragment(of hash: UInt64) -> UInt64 { hash & 0xFFFF_FFFF }

    /// Adds `slot` under `hash` (a slot already there under the same hash is added again:
    /// the caller removes before it re-inserts). Call `needsRebuild` first.
    mutating func insert(hash: UInt64, slot: Int) {
        precondition(slot >= 0 && slot <= Self.maximumSlot, "slot out of the table's range")
        let entry = Self.fragment(of: hash) << 32 | UInt64(slot + 1)
        var position = home(of: hash)
        while buckets[position] != Self.empty && buckets[position] != Self.removed {
            position = position + 1 == buckets.count ? 0 : position + 1
        }
        if buckets[position] == Self.removed { tombstones -= 1 }
        buckets[position] = entry
        count += 1
    }

    /// Removes one bucket holding `slot` under `hash`; returns whether there was one.
    @discardableResult
    mutating func remove(hash: UInt64, slot: Int) -> Bool {
        let entry = Self.fragment(of: hash) << 32 | UInt64(slot + 1)
        var position = home(of: hash)
        while buckets[position] != Self.empty {
            if buckets[position] == entry {
                buckets[position] = Self.removed
                count -= 1
                tombstones += 1
                return true
            }
            position = position + 1 == buckets.count ? 0 : position + 1
        }
        return false
    }

    /// The slots stored under hashes with the same fragment as `hash`, in probe order: the
    /// caller checks each against its record.
    func candidates(of hash: UInt64) -> Candidates {
        Candidates(table: self, position: home(of: hash), fragment: Self.fragment(of: hash))
    }

    struct Candidates: IteratorProtocol, Sequence {
        fileprivate let table: SlotTable
        fileprivate var position: Int
        fileprivate let fragment: UInt64

        mutating func next() -> Int? {
            while true {
                let entry = table.buckets[position]
                if entry == SlotTable.empty { return nil }
                position = position + 1 == table.buckets.count ? 0 : position + 1
                if entry != SlotTable.removed && entry >> 32 == fragment {
                    return Int(entry & 0xFFFF_FFFF) - 1
                }
            }
        }
    }
}
