import Foundation

/// Timing and sizing of the membership protocol. Defaults are memberlist's LAN settings.
public struct MembershipSettings: Hashable, Sendable {
    /// Time between two probes of this node (stretched by local health awareness).
    public var probeIntervalMs: Int64 = 1_000
    /// How long to wait for a direct ack before asking others to probe.
    public var probeTimeoutMs: Int64 = 500
    /// How many members are asked to probe indirectly.
    public var indirectChecks: Int = 3
    /// Suspicion lasts at least `suspicionMultiplier × log10(N) × probeInterval`.
    public var suspicionMultiplier: Int = 4
    /// Suspicion with no confirmations lasts this many times the minimum.
    public var suspicionMaxTimeoutMultiplier: Int = 6
    /// A broadcast is sent `retransmitMultiplier × ceil(log10(N + 1))` times.
    public var retransmitMultiplier: Int = 4
    /// How often pending broadcasts are gossiped, and to how many members.
    public var gossipIntervalMs: Int64 = 200
    public var gossipFanout: Int = 3
    /// Local health awareness: probe interval and timeout are multiplied by (score + 1),
    /// the score staying below this maximum.
    public var awarenessMaxMultiplier: Int = 8
    /// Left members are forgotten this long after they left.
    public var tombstoneMs: Int64 = 60_000
    /// Failed (dead) members are kept this long, and contacted now and then, so a partition
    /// or a long outage heals by itself (Serf's reconnect).
    public var deadRetentionMs: Int64 = 24 * 3_600_000
    /// How often a push-pull is tried with a random dead member.
    public var reconnectIntervalMs: Int64 = 10_000
    /// How often a full state exchange (push-pull over TCP) runs with a random member.
    public var pushPullIntervalMs: Int64 = 30_000
    /// Largest datagram, so messages never fragment on ordinary networks.
    public var maxDatagramBytes: Int = 1_400
    /// A member's clock sample (`ClockOffsets`) counts this long after it was taken.
    public var clockSampleMaxAgeMs: Int64 = 120_000

    public init() {}

    /// The retransmit limit λ·log(N+1), at least 1.
    public func retransmitLimit(members: Int) -> Int {
        let scale = Int(log10(Double(members + 1)).rounded(.up))
        return max(1, retransmitMultiplier * max(1, scale))
    }

    /// Suspicion timeout bounds for a cluster of `members`: (minimum, maximum) in ms.
    public func suspicionBounds(members: Int) -> (minimum: Int64, maximum: Int64) {
        let nodeScale = max(1.0, log10(Double(max(1, members))))
        let minimum = Int64(Double(suspicionMultiplier) * nodeScale * Double(probeIntervalMs))
        return (minimum, minimum * Int64(suspicionMaxTimeoutMultiplier))
    }
}
