/// One security event: what happened, when, on which node, from which source, about which
/// key, caused by which request. Never a secret: keys are named by their id, tokens by
/// nothing at all, gossip peers by address or member id.
///
/// The node writes it as one JSON object with ECS field names (`@timestamp`, `event.kind`,
/// `event.category`, `event.type`, `event.action`, `event.outcome`, `event.sequence`,
/// `source.ip`, `related.ip`, `gatehouse.key_id`, `trace.id`, `host.name`, `message`).
public struct SecurityEvent: Sendable, Hashable {
    public var type: SecurityEventType
    /// Unix milliseconds.
    public var timeMs: Int64
    /// The node that saw it (`host.name`).
    public var node: String
    /// Its place in the node's ring (`event.sequence`), the cursor of `GET /v1/events`;
    /// 0 until the ring takes it.
    public var sequence: UInt64 = 0
    public var sourceIP: String?
    public var keyID: String?
    /// The request that caused it (`trace.id`); for an aggregate, the window's first.
    public var requestID: String?
    /// How many occurrences it stands for (`gatehouse.count`), for aggregated events.
    public var count: Int64?
    /// The member it is about, or that sent it (`gatehouse.member`).
    public var member: String?
    /// The aggregation window's start, Unix milliseconds (`event.start`).
    public var windowStartMs: Int64?
    public var message: String

    public init(
        _ type: SecurityEventType, timeMs: Int64, node: String, message: String, sourceIP: String? = nil, keyID: String? = nil,
        requestID: String? = nil, count: Int64? = nil, member: String? = nil, windowStartMs: Int64? = nil
    ) {
        self.type = type
        self.timeMs = timeMs
        self.node = node
        self.message = message
        self.sourceIP = sourceIP
        self.keyID = keyID
        self.requestID = requestID
        self.count = count
        self.member = member
        self.windowStartMs = windowStartMs
    }
}
