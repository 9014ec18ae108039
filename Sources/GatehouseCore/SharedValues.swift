/// Values many keys hold alike — owners, scope lists, limit shapes, holder lists, meta —
/// kept once each and referred to by a 32-bit ordinal, with a count of the keys using each
/// so a value no key uses any more is forgotten (its ordinal is reused).
///
/// A million keys with the same two scopes then hold one array, not a million.
struct SharedValues<Value: Hashable & Sendable>: Sendable {
    private var values: [Value?] = []
    private var uses: [UInt32] = []
    private var ordinals: [Value: UInt32] = [:]
    private var free: [UInt32] = []

    /// The value last retained: keys loaded or imported together mostly share their
    /// values, and comparing with the last one is cheaper than hashing.
    private var last: (value: Value, ordinal: UInt32)?

    /// The ordinal of `value`, counting one more use of it.
    mutating func retain(_ value: Value) -> UInt32 {
        if let last, last.value == value {
            uses[Int(last.ordinal)] += 1
            return last.ordinal
        }
        let ordinal = retainHashing(value)
        last = (value, ordinal)
        return ordinal
    }

    private mutating func retainHashing(_ value: Value) -> UInt32 {
        if let ordinal = ordinals[value] {
            uses[Int(ordinal)] += 1
            return ordinal
        }
        let ordinal: UInt32
        if let reused = free.popLast() {
            ordinal = reused
            values[Int(ordinal)] = value
            uses[Int(ordinal)] = 1
        } else {
            ordinal = UInt32(values.count)
            values.append(value)
            uses.append(1)
        }
        ordinals[value] = ordinal
        return ordinal
    }

    /// One use of `ordinal` fewer; the value is forgotten with its last use.
    mutating func release(_ ordinal: UInt32) {
        let index = Int(ordinal)
        uses[index] -= 1
        guard uses[index] == 0, let value = values[index] else { return }
        ordinals[value] = nil
        values[index] = nil
        if last?.ordinal == ordinal { last = nil }
        free.append(ordinal)
    }

    subscript(ordinal: UInt32) -> Value { values[Int(ordinal)]! }

    /// The ordinal of `value` if some key holds it.
    func ordinal(of value: Value) -> UInt32? { ordinals[value] }

    /// Distinct values held.
    var count: Int { ordinals.count }
}
