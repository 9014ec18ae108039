/// When a node's own, not yet sent count of a limit is worth sending: by need, not by rate.
///
/// For one limit `L` shared by `N` nodes, let `E` be this node's estimate of the cluster's
/// sliding count (its own count plus what peers have sent it) and `u` what it counted since
/// it last sent its slots. The count is due when
///
/// 1. `u > 0` and `E ≥ nearLimit · L` (near the limit every change goes out at the next
///    sync tick, so every node's view of the cluster's count stays close near the limit), or
/// 2. `u ≥ max(1, θ · (L − E) / N)` (far from the limit a node keeps up to a θ-fraction of
///    its share of the headroom to itself), or
/// 3. `u > 0` and the oldest unsent count is `(1 − φ) · min(maxStaleness, window / 10)` old,
///    with `φ ∈ [0, ½)` a phase of its own per key: keys that turned hot at the same moment
///    (a load starting, a node restarting) would otherwise all fall due on the same tick, and
///    every second one tick would carry all of them (a burst of work on every node at once).
///
/// **Accuracy bound.** Far from the limit (rule 2), the true count `T` and any node's view
/// `E_i` differ by what the other nodes hold back: `T − E_i = Σ_{j≠i} u_j < Σ_{j≠i}
/// (θ (L − E_j)/N + 1) ≤ θ (L − min_j E_j)(N − 1)/N + N − 1`. Every node therefore sees the
/// limit approach to within a θ-fraction of the remaining headroom (plus one request per
/// node), and enters the near-limit regime no later than `T ≈ nearLimit·L + θ(1 −
/// nearLimit)L`. From there on each node sends every change within one sync interval, so every
/// node's `remaining` is within one sync's traffic of the truth. The ceiling itself does not
/// rest on this rule: each node admits only within its share of the limit (`WindowShare`:
/// at most `max(1.02 · L, L + N)` in the default mode, `L` with `strict`), whatever the syncs do.
///
/// **Messages.** While `E` stays below `nearLimit·L`, each send shrinks the headroom a node
/// sees by at least the factor `(1 − θ/N)`, so going from `E = 0` to `nearLimit·L` takes at
/// most `(N/θ) · ln(1/(1 − nearLimit))` sends per node per window (≈ 48 for the values
/// above) — independent of the request rate — plus at most one per staleness period. That is
/// the continuous-distributed-counting bound (Cormode, Muthukrishnan and Yi, 2008): messages
/// logarithmic in the count, not one per update.
public struct CounterSendRule: Hashable, Sendable {
    /// θ: the fraction of a node's share of the headroom it may hold back.
    public var headroomFraction: Double
    /// From this fraction of the limit on, every change is due at once.
    public var nearLimit: Double
    /// No unsent count waits longer than this (nor longer than a tenth of its window).
    public var maxStalenessMs: Int64

    public init(headroomFraction: Double = 0.1, nearLimit: Double = 0.8, maxStalenessMs: Int64 = 1_000) {
        self.headroomFraction = headroomFraction
        self.nearLimit = nearLimit
        self.maxStalenessMs = maxStalenessMs
    }

    /// Sends every change at once: the rule of a perfect network, for tests and simulators.
    public static let always = CounterSendRule(headroomFraction: 0, nearLimit: 0, maxStalenessMs: 0)

    /// When a limit not due now would be: after `moreCounts` more own counts (the headroom
    /// share or the near-limit mark reached, counted as if every one landed in the current
    /// window) or `afterMs` more milliseconds (its staleness deadline). `nil` when it is due
    /// now, or has nothing unsent (`isDue` false for good: it needs a count first).
    public func nextCheck(
        unsent: Int64, estimate: Double, limit: Int64, windowMs: Int64, nodes: Int, unsentForMs: Int64, phase: Double = 0
    ) -> (moreCounts: Int64, afterMs: Int64)? {
        guard unsent > 0 else { return (.max, .max) }
        guard !isDue(unsent: unsent, estimate: estimate, limit: limit, windowMs: windowMs, nodes: nodes, unsentForMs: unsentForMs, phase: phase)
        else { return nil }
        let limitValue = Double(limit)
        let share = max(1, headroomFraction * max(0, limitValue - estimate) / Double(max(1, nodes)))
        let toShare = share - Double(unsent)
        let toNearLimit = nearLimit * limitValue - estimate
        let counts = max(1, min(toShare, toNearLimit).rounded(.up))
        let staleness = Double(min(maxStalenessMs, windowMs / 10)) * (1 - min(0.5, max(0, phase)))
        let wait = max(1, (staleness - Double(unsentForMs)).rounded(.up))
        return (counts >= 9.2e18 ? .max : Int64(counts), wait >= 9.2e18 ? .max : Int64(wait))
    }

    /// Whether `unsent` own counts of a limit must go out now.
    public func isDue(
        unsent: Int64, estimate: Double, limit: Int64, windowMs: Int64, nodes: Int, unsentForMs: Int64, phase: Double = 0
    ) -> Bool {
        guard unsent > 0 else { return false }
        let staleness = Double(min(maxStalenessMs, windowMs / 10)) * (1 - min(0.5, max(0, phase)))
        if Double(unsentForMs) >= staleness { return true }
        let limitValue = Double(limit)
        if estimate >= nearLimit * limitValue { return true }
        let headroom = max(0, limitValue - estimate)
        return Double(unsent) >= max(1, headroomFraction * headroom / Double(max(1, nodes)))
    }
}
