/// What a security event reports, with its ECS classification (`event.kind`,
/// `event.category`, `event.type`, `event.outcome`). The raw value is `event.action` and the
/// `type` label of `gatehouse_security_events_total`.
public enum SecurityEventType: String, Sendable, CaseIterable, Codable {
    /// A source sent `burstThreshold` unknown or malformed keys within one window.
    case keyGuessingBurst = "key_guessing_burst"
    /// A source reached the failed-attempt limit and is refused without its key or token being looked at.
    case sourceThrottled = "source_throttled"
    /// A throttled source fell back under the limit.
    case sourceReleased = "source_released"
    case keyRevokedInUse = "key_revoked_in_use"
    case keyDisabledInUse = "key_disabled_in_use"
    case keyExpiredInUse = "key_expired_in_use"
    case scopeRefused = "scope_refused"
    /// Rate-limit (and usage-quota) refusals of one key, counted over one window.
    case rateLimited = "rate_limited"
    case adminAuthFailed = "admin_auth_failed"
    case gatewayAuthFailed = "gateway_auth_failed"
    case gossipAuthFailed = "gossip_auth_failed"
    case clockSkewRejected = "clock_skew_rejected"
    case memberSuspected = "member_suspected"
    case memberDead = "member_dead"

    /// ECS `event.kind`: `alert` for what someone should look at, `event` otherwise.
    public var kind: String {
        switch self {
        case .keyGuessingBurst, .sourceThrottled, .keyRevokedInUse, .gossipAuthFailed, .clockSkewRejected, .memberDead: "alert"
        default: "event"
        }
    }

    /// ECS `event.category` (allowed values only).
    public var category: [String] {
        switch self {
        case .keyGuessingBurst, .gossipAuthFailed: ["authentication", "intrusion_detection"]
        case .sourceThrottled, .sourceReleased: ["intrusion_detection", "network"]
        case .keyRevokedInUse, .keyDisabledInUse, .keyExpiredInUse, .adminAuthFailed, .gatewayAuthFailed: ["authentication"]
        case .scopeRefused: ["iam"]
        case .rateLimited: ["web"]
        case .clockSkewRejected, .memberSuspected, .memberDead: ["host"]
        }
    }

    /// ECS `event.type` (allowed values only).
    public var ecsType: [String] {
        switch self {
        case .sourceThrottled: ["denied", "start"]
        case .sourceReleased: ["end"]
        case .memberSuspected: ["info"]
        case .memberDead: ["end"]
        case .clockSkewRejected: ["denied", "change"]
        default: ["denied"]
        }
    }

    /// ECS `event.outcome`.
    public var outcome: String {
        switch self {
        case .sourceReleased, .memberSuspected, .memberDead: "unknown"
        default: "failure"
        }
    }

    /// The event a refused verify's code means for the key, if any (`nil` for codes that are
    /// not about a known key, and for `VALID`).
    public static func keyInUse(_ code: VerifyCode) -> SecurityEventType? {
        switch code {
        case .revoked: .keyRevokedInUse
        case .disabled: .keyDisabledInUse
        case .expired: .keyExpiredInUse
        case .insufficientScope: .scopeRefused
        default: nil
        }
    }
}
