import GatehouseCore
import GatehouseMembership

/// The cluster side of a node: where it gossips, whom it asks first, the keyring and the
/// protocol timing. `nil` in `NodeConfig` means a standalone node.
public struct ClusterConfig: Sendable {
    public var gossipAddress: HostPort
    /// Gossip addresses to join through; the node's own address is skipped.
    public var seeds: [HostPort]
    /// Base64 AES-256 keys; the first seals, all open.
    public var gossipKeys: [String]
    public var membership: MembershipSettings
    /// How often this node's changed counter slots are sent to its peers.
    public var counterSyncIntervalMs: Int64 = 50
    /// Up to this many live peers, counter slots go to every peer; beyond, to a random few
    /// who pass them on (fan-out).
    public var counterDirectLimit = 16
    /// How often key records are compared with a random member (anti-entropy).
    public var antiEntropyIntervalMs: Int64 = 5_000
    /// Largest data-plane or push-pull frame accepted over TCP (after the handshake).
    public var maxSyncFrameBytes = 8 * 1024 * 1024
    /// SO_RCVBUF asked for the failure-detection socket, so a burst of probes is never
    /// dropped by the kernel; what was granted is logged and exported.
    public var udpReceiveBufferBytes = 4 * 1024 * 1024
    /// An inbound TCP connection must send its sealed `hello` within this.
    public var handshakeTimeoutMs: Int64 = 5_000
    public var maxPeerConnections = 1_024
    /// Inbound connections that have not authenticated yet, at most, at once.
    public var maxUnauthenticatedPeerConnections = 64
    /// A replicated version (or quota version) further ahead of this node's clock than this is
    /// refused and counted: one bad clock or hostile member must not win every later merge.
    public var maxClockSkewMs: Int64 = ClusterConfig.defaultMaxClockSkewMs
    public static let defaultMaxClockSkewMs: Int64 = 5_000
    /// When counts are worth sending (DESIGN §5: by need, not by rate).
    public var counterSendRule = CounterSendRule()

    public init(gossipAddress: HostPort, seeds: [HostPort], gossipKeys: [String], membership: MembershipSettings = MembershipSettings()) {
        self.gossipAddress = gossipAddress
        self.seeds = seeds
        self.gossipKeys = gossipKeys
        self.membership = membership
    }
}
