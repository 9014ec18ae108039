import GatehouseCore
import HTTPTypes

/// What Envoy's ext_authz `Check` asks about a request, as plain values.
public struct EnvoyCheckRequest: Sendable, Equatable {
    /// The request's headers; Envoy sends the names in lower case.
    public var headers: [String: String]
    public var path: String
    /// Per-route `context_extensions`: `scopes` (comma-separated) and `cost` are read.
    public var contextExtensions: [String: String]
    /// The downstream client's address as Envoy saw it, for the failed-attempt throttle.
    public var sourceAddress: String?

    public init(headers: [String: String], path: String = "/", contextExtensions: [String: String] = [:], sourceAddress: String? = nil) {
        self.headers = headers
        self.path = path
        self.contextExtensions = contextExtensions
        self.sourceAddress = sourceAddress
    }
}

/// How `Check` finds the key and the scopes a request needs.
public struct EnvoyAuthorizationSettings: Sendable, Equatable {
    /// The header with the key (lower case); `authorization: Bearer <key>` is read first.
    public var keyHeader: String
    /// Scopes by path prefix, for routes whose filter config sets no `scopes` extension; the
    /// longest matching prefix wins.
    public var routes: [Route]

    public struct Route: Sendable, Equatable {
        public var pathPrefix: String
        public var scopes: [String]

        public init(pathPrefix: String, scopes: [String]) {
            self.pathPrefix = pathPrefix
            self.scopes = scopes
        }
    }

    public init(keyHeader: String = "x-api-key", routes: [Route] = []) {
        self.keyHeader = keyHeader.lowercased()
        self.routes = routes
    }
}

/// Gatehouse's answer to `Check`.
public enum EnvoyCheckAnswer: Sendable, Equatable {
    /// Let it through: headers for the upstream request and for the client's response.
    case allowed(upstream: [Header], response: [Header])
    /// Refuse it with this status, headers and body (the verify answer as JSON).
    case denied(status: Int, headers: [Header], code: VerifyCode)

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }
}

/// A `Check` that cannot be evaluated; Envoy gets `INVALID_ARGUMENT`.
public struct EnvoyCheckRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
}

/// Decides Envoy ext_authz checks the way `GET /v1/auth` decides forward-auth requests
/// (`ForwardAuthDecision`): 401, 403 or 429 with `retry-after` and the RateLimit headers.
/// Pure: the caller passes how to verify.
public struct EnvoyAuthorizationDecision: Sendable {
    public var settings: EnvoyAuthorizationSettings
    public var failedAttemptWindowMs: Int64

    /// Meta entries become `x-gatehouse-meta-<name>` upstream when the name is a plain token.
    static let metaPrefix = "x-gatehouse-meta-"

    public init(settings: EnvoyAuthorizationSettings, failedAttemptWindowMs: Int64) {
        self.settings = settings
        self.failedAttemptWindowMs = failedAttemptWindowMs
    }

    public func decide(
        _ request: EnvoyCheckRequest, verify: (_ key: String, _ request: VerifyRequest) -> VerifyAnswer
    ) throws(EnvoyCheckRequestError) -> EnvoyCheckAnswer {
        var cost: Int64 = 1
        if let text = request.contextExtensions["cost"] {
            guard let value = Int64(text), value >= 0 else {
                throw EnvoyCheckRequestError(description: "context extension cost must be an integer, 0 or more")
            }
            cost = value
        }
        let verifyRequest = VerifyRequest(
            scopes: scopes(for: request), cost: cost, source: request.sourceAddress.map { SourceAddress.identity($0) })
        let answer = verify(key(in: request.headers), verifyRequest)
        let decision = ForwardAuthDecision(answer: answer, mode: .standard, failedAttemptWindowMs: failedAttemptWindowMs)
        let headers = decision.headers.map { EnvoyCheckAnswer.Header($0.name.canonicalName, $0.value) }
        guard answer.valid else {
            return .denied(status: Int(decision.status.code), headers: headers, code: answer.code)
        }
        var upstream = headers.filter { $0.name.hasPrefix("x-gatehouse-") && $0.name != "x-gatehouse-code" }
        for (name, value) in answer.meta.sorted(by: { $0.key < $1.key }) where Self.isToken(name) && Self.isHeaderValue(value) {
            upstream.append(.init(Self.metaPrefix + name.lowercased(), value))
        }
        let response = headers.filter { $0.name.hasPrefix("ratelimit-") }
        return .allowed(upstream: upstream, response: response)
    }

    /// `authorization: Bearer <key>`, else the key header, else nothing (`MALFORMED`).
    private func key(in headers: [String: String]) -> String {
        headers["authorization"].flatMap(BearerToken.parse) ?? headers[settings.keyHeader] ?? ""
    }

    /// The `scopes` context extension, else the scopes of the longest matching route prefix.
    private func scopes(for request: EnvoyCheckRequest) -> [String] {
        if let listed = request.contextExtensions["scopes"] {
            return listed.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        return settings.routes.filter { path.hasPrefix($0.pathPrefix) }.max { $0.pathPrefix.count < $1.pathPrefix.count }?.scopes ?? []
    }

    /// No control characters: a meta value cannot split or end the header it is sent in.
    private static func isHeaderValue(_ value: String) -> Bool {
        value.utf8.count <= 1_024 && value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    /// Letters, digits, `-` and `_`: safe as part of a header name.
    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }
}
