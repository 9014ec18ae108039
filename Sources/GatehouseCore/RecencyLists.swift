/// Doubly linked recency lists threaded through the slots of a fixed table: each slot is
/// in at most one list, and moving a slot to the newest end or taking a list's oldest slot
/// costs O(1) and allocates nothing once the table has grown to its size.
///
/// The bounded tables of the core (the failed-attempt throttle, THROTTLE buckets) keep
/// their entries in arrays indexed by slot and use this for least-recently-used eviction,
/// so an eviction never scans the table however large it is.
struct RecencyLists: Sendable {
    private static let none: Int32 = -1
    private var older: [Int32] = []
    private var newer: [Int32] = []
    private var oldestOf: [Int32]
    private var newestOf: [Int32]
    private var listOf: [Int8] = []
    private var counts: [Int]

    init(lists: Int, reservingSlots capacity: Int = 0) {
        precondition(lists > 0 && lists <= Int(Int8.max))
        oldestOf = Array(repeating: Self.none, count: lists)
        newestOf = oldestOf
        counts = Array(repeating: 0, count: lists)
        older.reserveCapacity(capacity)
        newer.reserveCapacity(capacity)
        listOf.reserveCapacity(capacity)
    }

    /// Slots known to the lists; a table adds slot `slotCount` before using it.
    var slotCount: Int { older.count }

    /// Makes room for one more slot, in no list.
    mutating func addSlot() {
        older.append(Self.none)
        newer.append(Self.none)
        listOf.append(-1)
    }

    /// The list `slot` is in, or `nil`.
    func list(of slot: Int) -> Int? {
        listOf[slot] < 0 ? nil : Int(listOf[slot])
    }

    /// Slots in `list`.
    func count(in list: Int) -> Int { counts[list] }

    /// The least recently touched slot of `list`.
    func oldest(in list: Int) -> Int? {
        oldestOf[list] == Self.none ? nil : Int(oldestOf[list])
    }

    /// Puts `slot` at the newest end of `list`, taking it out of any list it was in.
    mutating func touch(_ slot: Int, in list: Int) {
        remove(slot)
        let previousNewest = newestOf[list]
        older[slot] = previousNewest
        newer[slot] = Self.none
        if previousNewest == Self.none {
            oldestOf[list] = Int32(slot)
        } else {
            newer[Int(previousNewest)] = Int32(slot)
        }
        newestOf[list] = Int32(slot)
        listOf[slot] = Int8(list)
        counts[list] += 1
    }

    /// Takes `slot` out of its list, if it is in one.
    mutating func remove(_ slot: Int) {
        guard listOf[slot] >= 0 else { return }
        let list = Int(listOf[slot])
        let before = older[slot]
        let after = newer[slot]
        if before == Self.none { oldestOf[list] = after } else { newer[Int(before)] = after }
        if after == Self.none { newestOf[list] = before } else { older[Int(after)] = before }
        older[slot] = Self.none
        newer[slot] = Self.none
        listOf[slot] = -1
        counts[list] -= 1
    }

    /// Bytes of link storage per slot.
    static let bytesPerSlot = 2 * MemoryLayout<Int32>.stride + MemoryLayout<Int8>.stride
}
