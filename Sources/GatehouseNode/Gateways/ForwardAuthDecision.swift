import GatehouseCore
import HTTPTypes

/// How a forward-auth answer tells the proxy that a request is over a limit.
public enum ForwardAuthMode: String, Sendable, CaseIterable {
    /// 429 with `Retry-After`: for proxies that pass any status on (Traefik, Kong, Envoy).
    case standard
    /// 403 with `X-Gatehouse-Code` and `Retry-After`: nginx `auth_request` accepts only 2xx,
    /// 401 and 403 from its subrequest (anything else becomes a 500 for the client), so the
    /// shipped `deploy/nginx/gatehouse.conf` turns this 403 back into a 429 by its code.
    case nginx
}

/// The status and headers a forward-auth answer carries for one verify answer: what
/// `GET /v1/auth` answers and what Envoy's ext_authz `Check` denies with.
///
/// Pure: the caller passes the failed-attempt window (the `Retry-After` of `SOURCE_THROTTLED`).
public struct ForwardAuthDecision: Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// `X-Gatehouse-Code`, `X-Gatehouse-Key-Id`, `X-Gatehouse-Owner` (valid keys only),
    /// `RateLimit-Limit/Remaining/Reset`, `Retry-After` and `WWW-Authenticate`, as they apply.
    public var headers: HTTPFields

    public init(answer: VerifyAnswer, mode: ForwardAuthMode, failedAttemptWindowMs: Int64) {
        var headers: HTTPFields = [.gatehouseCode: answer.code.rawValue]
        if let keyID = answer.keyID { headers[.gatehouseKeyID] = keyID }
        if answer.valid, let owner = answer.owner, !owner.isEmpty { headers[.gatehouseOwner] = owner }
        if let limit = answer.limit, let remaining = answer.remaining, let reset = answer.resetMs {
            headers[.rateLimitLimit] = String(limit)
            headers[.rateLimitRemaining] = String(remaining)
            headers[.rateLimitReset] = String(Self.seconds(reset))
        }
        switch answer.code {
        case .valid:
            status = .ok
        case .insufficientScope:
            status = .forbidden
        case .rateLimited, .usageExceeded, .sourceThrottled:
            status = Self.overLimitStatus(mode)
            let retryMs = answer.code == .sourceThrottled ? failedAttemptWindowMs : (answer.retryAfterMs ?? 0)
            if retryMs > 0 { headers[.retryAfter] = String(Self.seconds(retryMs)) }
        case .malformed, .notFound, .revoked, .disabled, .expired:
            status = .unauthorized
            headers[.wwwAuthenticate] = "Bearer"
        }
        self.headers = headers
    }

    /// The status of an over-limit refusal in `mode`: 429, or 403 for nginx.
    public static func overLimitStatus(_ mode: ForwardAuthMode) -> HTTPResponse.Status {
        mode == .nginx ? .forbidden : .tooManyRequests
    }

    /// Milliseconds as whole seconds, rounded up (`Retry-After`, `RateLimit-Reset`).
    static func seconds(_ milliseconds: Int64) -> Int64 {
        (milliseconds + 999) / 1000
    }
}

extension HTTPField.Name {
    static let apiKey = Self("X-API-Key")!
    static let gatehouseToken = Self("X-Gatehouse-Token")!
    static let gatehouseKeyID = Self("X-Gatehouse-Key-Id")!
    static let gatehouseOwner = Self("X-Gatehouse-Owner")!
    static let gatehouseCode = Self("X-Gatehouse-Code")!
    static let rateLimitLimit = Self("RateLimit-Limit")!
    static let rateLimitRemaining = Self("RateLimit-Remaining")!
    static let rateLimitReset = Self("RateLimit-Reset")!
}
