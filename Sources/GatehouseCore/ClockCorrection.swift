/// Whether a node answers on its own clock or on the cluster's, given how far the cluster's
/// time is from its own (`ClockOffsets` in the membership layer measures that).
///
/// A node whose clock is off by more than `boundMs` from the majority would count in other
/// windows, expire keys early or late and stamp versions its peers refuse; instead it answers
/// on the cluster's time (its clock plus the measured offset) until its own clock is back
/// within half the bound. The half keeps a node near the bound from flapping.
public struct ClockCorrection: Sendable, Hashable {
    public let boundMs: Int64
    /// Added to this node's wall clock; 0 while the clock is trusted.
    public private(set) var correctionMs: Int64 = 0

    public init(boundMs: Int64) {
        self.boundMs = max(1, boundMs)
    }

    public var isCorrecting: Bool { correctionMs != 0 }

    /// Takes a new measurement of the cluster's time minus ours (`nil`: nothing measured, so
    /// nothing changes). Returns whether the correction changed enough to report.
    public mutating func observe(clusterOffsetMs offset: Int64?) -> Bool {
        guard let offset else { return false }
        if offset.magnitude > UInt64(boundMs) {
            let changed = !isCorrecting || (offset &- correctionMs).magnitude > UInt64(boundMs / 2)
            correctionMs = offset
            return changed
        }
        if isCorrecting && offset.magnitude <= UInt64(boundMs / 2) {
            correctionMs = 0
            return true
        }
        if isCorrecting { correctionMs = offset }
        return false
    }
}
