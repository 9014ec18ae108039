/// The outcome of a verify, in the order the decision checks them (DESIGN §4).
public enum VerifyCode: String, Sendable, CaseIterable, Codable {
    case valid = "VALID"
    case malformed = "MALFORMED"
    case sourceThrottled = "SOURCE_THROTTLED"
    case notFound = "NOT_FOUND"
    case revoked = "REVOKED"
    case disabled = "DISABLED"
    case expired = "EXPIRED"
    case insufficientScope = "INSUFFICIENT_SCOPE"
    case rateLimited = "RATE_LIMITED"
    case usageExceeded = "USAGE_EXCEEDED"

    /// A dense index, for per-code metric arrays.
    public var ordinal: Int {
        switch self {
        case .valid: 0
        case .malformed: 1
        case .sourceThrottled: 2
        case .notFound: 3
        case .revoked: 4
        case .disabled: 5
        case .expired: 6
        case .insufficientScope: 7
        case .rateLimited: 8
        case .usageExceeded: 9
        }
    }

    /// Codes that count as a failed attempt against the caller's source address.
    public var countsAsFailedAttempt: Bool { self == .malformed || self == .notFound }
}
