/// Timers the state machine asks the shell to run. One-shot; a timer that is no longer
/// relevant when it fires is ignored by the instance, so the shell never cancels anything.
public enum MembershipTimer: Hashable, Sendable {
    /// Time for the next probe.
    case probe
    /// The direct ack for a probe did not come in time: probe indirectly.
    case probeTimeout(sequence: UInt32)
    /// The probe round is over: no ack at all means suspicion.
    case indirectProbeTimeout(sequence: UInt32)
    /// As a relay for someone's indirect probe: the target did not answer, send a nack.
    case relayTimeout(sequence: UInt32)
    /// Check whether a suspicion has run out.
    case suspicion(NodeID)
    case gossip
    case reap
    case pushPull
    /// Try to reach a dead member again.
    case reconnect
}

/// What the state machine wants done. The shell carries these out and nothing else.
public enum MembershipDirective: Hashable, Sendable {
    case send(MembershipMessage, to: MemberAddress)
    case schedule(MembershipTimer, afterMs: Int64)
    /// A member's status or incarnation changed (`previous` is `nil` for a new member).
    case memberChanged(Member, previous: MemberStatus?)
    /// An application payload arrived for the first time.
    case deliver([UInt8], from: NodeID)
    /// Run a full state exchange over TCP with this member and feed the answer to `onPushPull`.
    case pushPull(with: MemberAddress)
}

/// Counts kept by the state machine for the shell's metrics.
public struct MembershipStats: Hashable, Sendable {
    public var probes = 0
    public var indirectProbes = 0
    public var failedProbes = 0
    public var suspicionsStarted = 0
    public var refutations = 0
    public var deathsDeclared = 0
    public var nacksSent = 0

    public init() {}
}
