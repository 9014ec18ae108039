/// Per-record state that most records never need, by record slot: a slot costs 4 bytes
/// until its entry is first written, when the entry is made. Reading a slot that has none
/// gives a fresh `Element()`.
///
/// With a million keys of which a few thousand are in use, the counters and escrows of the
/// idle ones cost nothing but the 4 bytes (`LimitCounters`, `EscrowBook`).
struct SparseSlots<Element: SparseSlotEntry>: Sendable {
    /// `0`: no entry; otherwise the entry's position in `entries`, plus one.
    private var positions: [UInt32] = []
    private var entries: [Element] = []

    /// Slots, with or without an entry.
    var count: Int { positions.count }
    var indices: Range<Int> { positions.indices }

    /// Entries made so far.
    var entryCount: Int { entries.count }

    /// Room for `slots` slots without growing (loading a known number of records).
    mutating func reserveCapacity(_ slots: Int) { positions.reserveCapacity(slots) }

    /// A slot for the next record, with no entry.
    mutating func appendSlot() { positions.append(0) }

    /// Whether `slot` has an entry.
    func hasEntry(_ slot: Int) -> Bool { positions[slot] != 0 }

    subscript(slot: Int) -> Element {
        get {
            let position = positions[slot]
            return position == 0 ? Element() : entries[Int(position) - 1]
        }
        _modify {
            if positions[slot] == 0 {
                entries.append(Element())
                positions[slot] = UInt32(entries.count)
            }
            yield &entries[Int(positions[slot]) - 1]
        }
    }
}

/// What `SparseSlots` holds: a value with an empty state to start from.
protocol SparseSlotEntry: Sendable {
    init()
}
