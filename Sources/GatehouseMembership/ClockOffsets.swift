/// How far other members' wall clocks are from this one's, measured on the probes SWIM sends
/// anyway: an ack carries the responder's clock reading, and the prober, knowing when it sent
/// the ping and when the ack came back, estimates the responder's offset as NTP does —
/// `theirs − (sent + received) / 2`, wrong by at most half the round trip. Samples whose round
/// trip exceeds `maxRoundTripMs` are ignored, so the error stays small against any sensible
/// skew bound.
///
/// Wall clocks decide window indices, expiry and versions; a node whose clock drifted (NTP
/// broken, a VM resumed) would count in other windows and expire keys early without knowing.
/// `clusterOffsetMs` is where the cluster's time stands relative to this node: the median
/// of this node's own (0) and every sampled member's offset, so a majority decides who is
/// wrong. With an even number of values the one nearer 0 is taken: a node never concludes it
/// is the odd one out on a tie (two nodes that disagree each see the other as off).
public struct ClockOffsets: Sendable {
    /// A member's offset (its clock minus ours) and when it was measured (our clock).
    public struct Sample: Sendable, Hashable {
        public var offsetMs: Int64
        public var atMs: Int64
    }

    public let maxRoundTripMs: Int64
    /// Samples older than this no longer count.
    public let maxAgeMs: Int64
    public private(set) var samples: [NodeID: Sample] = [:]

    public init(maxRoundTripMs: Int64, maxAgeMs: Int64) {
        self.maxRoundTripMs = maxRoundTripMs
        self.maxAgeMs = maxAgeMs
    }

    /// A direct ack from `member`, sent at its `theirMs`, to a ping we sent at `sentMs` and
    /// whose ack arrived at `receivedMs` (both our clock).
    public mutating func record(member: NodeID, sentMs: Int64, theirMs: Int64, receivedMs: Int64) {
        let roundTrip = receivedMs &- sentMs
        guard roundTrip >= 0, roundTrip <= maxRoundTripMs else { return }
        let midpoint = sentMs &+ roundTrip / 2
        let offset = theirMs.subtractingReportingOverflow(midpoint)
        guard !offset.overflow else { return }
        samples[member] = Sample(offsetMs: offset.partialValue, atMs: receivedMs)
    }

    public mutating func forget(_ member: NodeID) {
        samples[member] = nil
    }

    /// The cluster's time minus ours, from the samples at most `maxAgeMs` old at `nowMs`, or
    /// `nil` without any.
    public func clusterOffsetMs(nowMs: Int64) -> Int64? {
        let fresh = samples.values.filter { nowMs &- $0.atMs <= maxAgeMs }.map(\.offsetMs)
        guard !fresh.isEmpty else { return nil }
        let values = (fresh + [0]).sorted()
        let middle = values.count / 2
        if values.count % 2 == 1 { return values[middle] }
        let (low, high) = (values[middle - 1], values[middle])
        return low.magnitude <= high.magnitude ? low : high
    }
}
