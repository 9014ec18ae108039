import GatehouseCore

/// What a key of the population is meant to answer.
enum KeyKind: String, Codable, Sendable, CaseIterable {
    /// Known, enabled, with a limit no run reaches: `VALID`.
    case valid
    /// Well-formed but never created: `NOT_FOUND`.
    case invalid
    /// Created, then revoked: `REVOKED`.
    case revoked
    /// Created with a limit of 1 per hour: `RATE_LIMITED` from its second use on.
    case rateLimited = "rate_limited"
}

/// The keys a run presents: their secrets and what each should answer, in a fixed order
/// shuffled so that, under Zipf popularity, the hot keys are a fair mix of kinds.
struct KeyPopulation: Codable, Sendable {
    var secrets: [String]
    var kinds: [KeyKind]

    struct Shares: Codable, Sendable, Hashable {
        var invalid: Double
        var revoked: Double
        var rateLimited: Double
    }

    /// The kinds of `count` keys in the given shares (rounded; the rest valid), in a
    /// deterministic shuffle.
    static func plan(count: Int, shares: Shares, seed: UInt64) -> [KeyKind] {
        var kinds: [KeyKind] = []
        kinds.reserveCapacity(count)
        let invalid = Int((Double(count) * shares.invalid).rounded())
        let revoked = Int((Double(count) * shares.revoked).rounded())
        let limited = Int((Double(count) * shares.rateLimited).rounded())
        kinds += Array(repeating: .invalid, count: invalid)
        kinds += Array(repeating: .revoked, count: revoked)
        kinds += Array(repeating: .rateLimited, count: limited)
        kinds += Array(repeating: .valid, count: max(0, count - kinds.count))
        var generator = SplitMix64(seed: seed)
        kinds.shuffle(using: &generator)
        return Array(kinds.prefix(count))
    }

    /// A secret for a key that is never created: well-formed, so the server hashes and
    /// looks it up rather than refusing it on format.
    static func unknownSecret(using generator: inout SplitMix64) -> String {
        APIKeyFormat.generate(prefix: "gk", using: &generator)
    }

    func count(of kind: KeyKind) -> Int { kinds.lazy.filter { $0 == kind }.count }
}

/// A small, fast, seedable generator: each connection has its own, so picking a key takes
/// no lock and a run can be repeated.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
