/// What the Envoy gRPC services answer by: `cluster.yaml` section `envoy:`.
public struct EnvoySettings: Sendable, Equatable {
    /// Domains and descriptors of the rate-limit service (`envoy.rate_limit_rules`, a file in
    /// envoyproxy/ratelimit's format); none: every descriptor is answered OK, unlimited.
    public var rateLimitRules = EnvoyRateLimitRules(domains: [])
    /// The descriptor key whose value is an API key, counted against the key's own limits.
    public var apiKeyDescriptor = "gatehouse_api_key"
    /// Whether rate-limit answers carry `x-ratelimit-limit`, `-remaining` and `-reset`.
    public var rateLimitHeaders = false
    /// Where ext_authz `Check` finds the key and the scopes.
    public var authorization = EnvoyAuthorizationSettings()

    public init() {}
}
