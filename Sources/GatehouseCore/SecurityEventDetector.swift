/// Turns what the node sees (refused verifies, refused tokens, gossip that does not
/// authenticate, records from the future, members failing) into security events, at most a
/// few per window for any one key or source: pure, on the time it is given.
///
/// - unknown or malformed keys: a `key_guessing_burst` when a source's count in a window
///   reaches `burstThreshold` (once per source and window);
/// - a source refused by the failed-attempt throttle: `source_throttled` the first time it is
///   seen refused, `source_released` at the first `tick` that finds it no longer throttled;
/// - a revoked, disabled or expired key, or a missing scope: one event per key, source and
///   kind in a window, the window's first;
/// - rate-limit and quota refusals: one `rate_limited` per key and window, with the count,
///   when the window has ended (`tick`);
/// - refused admin and gateway tokens: one event each (the failed-attempt throttle bounds them);
/// - gossip that does not authenticate: once per sending address and window.
///
/// What happens on the verify path when nothing is refused: nothing. A refusal of a key
/// already counted in its window costs one dictionary update.
public struct SecurityEventDetector: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The aggregation window, in milliseconds.
        public var windowMs: Int64 = 60_000
        /// Unknown or malformed keys from one source within a window that make a burst.
        public var burstThreshold: Int64 = 20
        /// Most keys or sources each tally holds in its open windows.
        public var capacity = 10_000

        public init() {}
    }

    /// Where a refused request came from, read only when an event is made.
    public struct Origin: Sendable, Hashable {
        public var sourceIP: String?
        public var requestID: String?

        public init(sourceIP: String? = nil, requestID: String? = nil) {
            self.sourceIP = sourceIP
            self.requestID = requestID
        }
    }

    struct KeyUse: Hashable, Sendable {
        var type: SecurityEventType
        var keyID: String
        var source: SourceIdentity?
    }

    public let node: String
    public let settings: Settings
    private var rateLimited: WindowTally<String, Origin>
    private var keyUses: WindowTally<KeyUse, Void>
    private var guesses: WindowTally<SourceIdentity, Void>
    private var gossipFailures: WindowTally<String, Void>
    /// Sources seen refused by the throttle and not yet seen released, with their address.
    private var throttled: [SourceIdentity: String?] = [:]

    public init(node: String, settings: Settings = Settings()) {
        self.node = node
        self.settings = settings
        rateLimited = WindowTally(windowMs: settings.windowMs, capacity: settings.capacity)
        keyUses = WindowTally(windowMs: settings.windowMs, capacity: settings.capacity)
        guesses = WindowTally(windowMs: settings.windowMs, capacity: settings.capacity)
        gossipFailures = WindowTally(windowMs: settings.windowMs, capacity: settings.capacity)
    }

    /// Sources currently known to be throttled.
    public var throttledSources: Int { throttled.count }

    /// A verify's outcome: the event it makes now, if any.
    public mutating func verified(
        _ code: VerifyCode, keyID: String?, source: SourceIdentity?, nowMs: Int64, origin: () -> Origin
    ) -> SecurityEvent? {
        switch code {
        case .valid:
            return nil
        case .malformed, .notFound:
            guard let source else { return nil }
            guard guesses.add(source, nowMs: nowMs, note: {}) == settings.burstThreshold else { return nil }
            let from = origin()
            return SecurityEvent(
                .keyGuessingBurst, timeMs: nowMs, node: node,
                message: "\(settings.burstThreshold) unknown or malformed keys from one source within \(settings.windowMs / 1000) s",
                sourceIP: from.sourceIP, requestID: from.requestID, count: settings.burstThreshold)
        case .sourceThrottled:
            guard let source else { return nil }
            return sourceThrottled(source, nowMs: nowMs, origin: origin)
        case .rateLimited, .usageExceeded:
            guard let keyID else { return nil }
            _ = rateLimited.add(keyID, nowMs: nowMs, note: origin)
            return nil
        case .revoked, .disabled, .expired, .insufficientScope:
            guard let keyID, let type = SecurityEventType.keyInUse(code) else { return nil }
            guard keyUses.add(KeyUse(type: type, keyID: keyID, source: source), nowMs: nowMs, note: {}) == 1 else { return nil }
            let from = origin()
            let what = switch code {
            case .revoked: "a revoked key is still in use"
            case .disabled: "a disabled key is still in use"
            case .expired: "an expired key is still in use"
            default: "a key was refused for a scope it does not have"
            }
            return SecurityEvent(type, timeMs: nowMs, node: node, message: what, sourceIP: from.sourceIP, keyID: keyID, requestID: from.requestID)
        }
    }

    /// A request refused because its source is throttled: an event the first time.
    public mutating func sourceThrottled(_ source: SourceIdentity, nowMs: Int64, origin: () -> Origin) -> SecurityEvent? {
        guard throttled[source] == nil else { return nil }
        let from = origin()
        if throttled.count < settings.capacity { throttled[source] = .some(from.sourceIP) }
        return SecurityEvent(
            .sourceThrottled, timeMs: nowMs, node: node,
            message: "a source reached the failed-attempt limit; its keys and tokens are refused unread",
            sourceIP: from.sourceIP, requestID: from.requestID)
    }

    /// A refused admin or gateway token.
    public func credentialRefused(_ type: SecurityEventType, nowMs: Int64, origin: Origin) -> SecurityEvent {
        let what = type == .adminAuthFailed ? "an admin token was refused" : "a gateway token was refused"
        return SecurityEvent(type, timeMs: nowMs, node: node, message: what, sourceIP: origin.sourceIP, requestID: origin.requestID)
    }

    /// A gossip packet or stream frame that did not authenticate: once per address and window.
    public mutating func gossipAuthFailed(from address: String, nowMs: Int64) -> SecurityEvent? {
        guard gossipFailures.add(address, nowMs: nowMs, note: {}) == 1 else { return nil }
        return SecurityEvent(
            .gossipAuthFailed, timeMs: nowMs, node: node,
            message: "gossip that did not authenticate with the cluster's keys (a wrong or retired gossip key, or a forgery)",
            sourceIP: address)
    }

    /// Replicated records refused for a version too far ahead of this node's clock.
    public func clockSkewRejected(member: String, firstKeyID: String?, count: Int64, aheadMs: Int64, nowMs: Int64) -> SecurityEvent {
        SecurityEvent(
            .clockSkewRejected, timeMs: nowMs, node: node,
            message: "\(count) replicated record(s) refused: version \(aheadMs) ms ahead of this node's clock",
            keyID: firstKeyID, count: count, member: member)
    }

    /// A member this node now suspects, or has declared dead.
    public func memberChanged(_ member: String, address: String?, dead: Bool, nowMs: Int64) -> SecurityEvent {
        SecurityEvent(
            dead ? .memberDead : .memberSuspected, timeMs: nowMs, node: node,
            message: dead ? "member declared dead" : "member suspected of having failed", sourceIP: address, member: member)
    }

    /// Ends windows and releases: `rate_limited` for every key refused in a window that has
    /// ended, `source_released` for every throttled source `isThrottled` no longer holds.
    public mutating func tick(nowMs: Int64, isThrottled: (SourceIdentity) -> Bool) -> [SecurityEvent] {
        var events: [SecurityEvent] = []
        for closed in rateLimited.close(nowMs: nowMs) {
            events.append(SecurityEvent(
                .rateLimited, timeMs: nowMs, node: node,
                message: "\(closed.count) request(s) refused for the key's rate limit or quota within \(settings.windowMs / 1000) s",
                sourceIP: closed.first.sourceIP, keyID: closed.key, requestID: closed.first.requestID, count: closed.count,
                windowStartMs: closed.windowStartMs))
        }
        _ = keyUses.close(nowMs: nowMs)
        _ = guesses.close(nowMs: nowMs)
        _ = gossipFailures.close(nowMs: nowMs)
        for (source, address) in throttled where !isThrottled(source) {
            throttled[source] = nil
            events.append(SecurityEvent(
                .sourceReleased, timeMs: nowMs, node: node, message: "a throttled source fell back under the failed-attempt limit",
                sourceIP: address))
        }
        return events
    }
}
